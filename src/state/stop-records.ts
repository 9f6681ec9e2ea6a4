import type {ProfileStore} from './profile-store.js'
import type {Checkpoint, ReplicationMode, StepRecord} from './schema.js'
import {DatainError, ExitCode} from '../lib/errors.js'

/**
 * Records `datain stop` keeps in the checkpoint beside the setup steps', under ids of their own:
 * persisted, never rename one. `replicate` is the setup step whose record a stop marks.
 */
export const STOP_RECORDS = {removed: 'removed', cleanup: 'cleanup', replicate: 'replicate', sourceLock: 'source-read-only'} as const

/** Where the replica had applied the source's binlog up to when replication stopped. */
export interface ReplicaPosition {
  mode: ReplicationMode
  /** `@@gtid_slave_pos`: the last GTID applied, per domain. */
  gtid: string
  /** The source's binlog coordinates of the last transaction applied (`Relay_Master_Log_File:Exec_Master_Log_Pos`). */
  file: string
  position: number
}

/** The `removed` record's output: the link was removed, the replica stands alone. */
export interface RemovedOutput {
  [key: string]: unknown
  removedAt: string
  /** `cutover`: removed once the replica had applied everything the source wrote (`stop --cutover`). */
  via: 'remove' | 'cutover'
  /** False when the setup had not linked the replica yet: there was nothing to remove, the setup was abandoned. */
  linked: boolean
  position: ReplicaPosition | null
  /** What the cutover did (final position, how long the source was read-only, events enabled). */
  cutover?: Record<string, unknown>
}

/** The `removed` record when the link was removed, else undefined. */
export function removedRecord(checkpoint: Checkpoint): (StepRecord & {output: RemovedOutput}) | undefined {
  const record = checkpoint.steps[STOP_RECORDS.removed]
  if (record?.state !== 'done' || !record.output) return undefined
  return record as StepRecord & {output: RemovedOutput}
}

/**
 * E_LINK_REMOVED (exit 2), for `datain start` on a profile whose link `datain stop --remove` (or
 * `--cutover`) removed. The setup is finished: the replica stands alone and may already take the
 * application's writes, so datain does not link it again from the old snapshot, nor copy into it
 * again by itself; a new setup needs a new snapshot, made on purpose.
 */
export function linkRemovedError(profile: string, record: StepRecord & {output: RemovedOutput}): DatainError {
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

/** A step's output in the checkpoint, whatever its state (an unfinished step keeps what it recorded). */
export function stepOutput(checkpoint: Checkpoint, id: string): Record<string, unknown> {
  return checkpoint.steps[id]?.output ?? {}
}

export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}
