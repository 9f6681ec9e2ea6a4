import type {ProfileStore} from './profile-store.js'
import type {Checkpoint, StopRecords} from './schema.js'
import type {RemovedOutput} from './step-outputs.js'
import {DatainError, ExitCode} from '../lib/errors.js'

export type {RemovedOutput, ReplicaPosition} from './step-outputs.js'

/**
 * Ids of the records `datain stop` keeps in the checkpoint's `stop` section (persisted, never rename
 * one), and `replicate`, the setup step whose record a stop marks.
 */
export const STOP_RECORDS = {removed: 'removed', cleanup: 'cleanup', replicate: 'replicate', sourceLock: 'source-read-only'} as const

/** A done `removed` record: the link was removed, the replica stands alone. */
export type RemovedRecord = StopRecords['removed'] & {state: 'done'; output: RemovedOutput}

/** The `removed` record when the link was removed, else undefined. */
export function removedRecord(checkpoint: Checkpoint): RemovedRecord | undefined {
  const record = checkpoint.stop.removed
  if (record?.state !== 'done' || !record.output) return undefined
  return record as RemovedRecord
}

/**
 * E_LINK_REMOVED (exit 2), for `datain start` on a profile whose link `datain stop --remove` (or
 * `--cutover`) removed. The setup is finished: the replica stands alone and may already take the
 * application's writes, so datain does not link it again from the old snapshot, nor copy into it
 * again by itself; a new setup needs a new snapshot, made on purpose.
 */
export function linkRemovedError(profile: string, record: RemovedRecord): DatainError {
  const p = profile === 'default' ? '' : ` --profile ${profile}`
  const how = record.output.via === 'cutover' ? 'cut over to the replica' : 'removed the replication link'
  return new DatainError(
    `The setup of profile '${profile}' is finished: 'datain stop' ${how} at ${record.output.removedAt}, and the replica stands alone. ` +
      'datain does not link it again: the replica may have taken writes since, and replication could only start over from a new snapshot. ' +
      `To replicate again, first remove what this setup created if you want it gone (datain stop${p} --cleanup), then set up anew under ` +
      'another profile (datain init --profile NEW … and datain start --profile NEW): the copy refuses databases that already exist on the replica ' +
      'unless you drop them or give that start --replace-databases, which replaces them.',
    {code: 'E_LINK_REMOVED', exit: ExitCode.usage, suggestions: [`datain stop${p} --cleanup`, 'datain init --profile NEW …', 'datain start --profile NEW']},
  )
}

/** For `datain start`: throws {@link linkRemovedError} when the profile's link was removed. */
export function assertLinkNotRemoved(checkpoint: Checkpoint, profile: string): void {
  const record = removedRecord(checkpoint)
  if (record) throw linkRemovedError(profile, record)
}

/**
 * Marks the replicate step as no longer done: replication was stopped (`E_STOPPED`) or its link
 * removed (`E_LINK_REMOVED`). Its output is carried over (the server parameters it changed, which a
 * cleanup puts back), and `datain start`, which runs the replicate step again whenever it is not
 * done, starts replication again from the link in place.
 */
export async function markReplicationStopped(store: ProfileStore, how: 'stopped' | 'removed', at: string): Promise<void> {
  const checkpoint = await store.readCheckpoint()
  const record = checkpoint.steps[STOP_RECORDS.replicate]
  const message =
    how === 'stopped'
      ? `Replication was stopped with 'datain stop' at ${at}; 'datain start' starts it again.`
      : `The replication link was removed with 'datain stop' at ${at}; the replica stands alone.`
  await store.markStep(STOP_RECORDS.replicate, {
    state: 'interrupted',
    output: {...record?.output, stoppedAt: at},
    error: {code: how === 'stopped' ? 'E_STOPPED' : 'E_LINK_REMOVED', message},
  })
}
