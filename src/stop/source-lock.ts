import type {Connection} from 'mariadb'
import type {ProfileStore} from '../state/profile-store.js'
import type {Session} from '../engine/session.js'
import type {Checkpoint} from '../state/schema.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {isOn, sqlErrno} from '../lib/sql.js'
import type {StepUi} from '../steps/step.js'
import {inspectLink} from '../replication/link-state.js'
import {removedRecord, STOP_RECORDS} from '../state/stop-records.js'
import type {SourceLockOutput} from '../state/step-outputs.js'

/** How long `SET GLOBAL read_only = ON` may wait for the global read lock (a long statement holds it off). */
const READ_ONLY_LOCK_WAIT_S = 30

/**
 * Where datain's own `read_only = ON` on the source stands, in the checkpoint's `source-read-only`
 * record. It is written (durably) before the SET, so that no kill, reboot or second Ctrl-C can leave
 * the source read-only without datain knowing that it was datain: `running` until settled, `done`
 * once datain kept it (the cutover completed) or put it back.
 */
export type SourceLockRecord = SourceLockOutput

/** What a stop did about an earlier run's unsettled read-only switch (`--json`). */
export interface SourceLockRecovery {
  /**
   * `restored`: the earlier cutover had not completed, read_only is OFF again; `kept`: it had, the
   * source stays read-only; `pending`: not completed, but the source could not be reached to put it back.
   */
  action: 'restored' | 'kept' | 'pending'
  /** When the earlier run set read_only. */
  lockedAt: string
}

/** The record of a read-only switch datain made and has not settled yet (a run that died or failed to put it back). */
export function pendingSourceLock(checkpoint: Checkpoint): SourceLockRecord | undefined {
  const record = checkpoint.stop[STOP_RECORDS.sourceLock]
  // Running from its first write on, which records the whole record: a part of one is not datain's.
  const output = record?.state === 'running' ? record.output : undefined
  return output?.previous && output.phase && output.at ? {...output, previous: output.previous, phase: output.phase, at: output.at} : undefined
}

/** Records that datain is about to make the source read-only: before the SET, never after. */
export async function beginSourceLock(store: ProfileStore): Promise<void> {
  const output: SourceLockRecord = {previous: 'OFF', phase: 'locking', at: new Date().toISOString()}
  await store.markStop(STOP_RECORDS.sourceLock, {state: 'running', output})
}

export async function sourceLockPhase(store: ProfileStore, phase: SourceLockRecord['phase']): Promise<void> {
  await store.recordStopProgress(STOP_RECORDS.sourceLock, {phase})
}

export async function settleSourceLock(store: ProfileStore, outcome: 'kept' | 'restored'): Promise<void> {
  const output = (await store.readCheckpoint()).stop[STOP_RECORDS.sourceLock]?.output
  if (!output?.previous || !output.phase || !output.at) throw new Error('bug: settleSourceLock without a source-read-only record')
  const settled = {...output, previous: output.previous, phase: output.phase, at: output.at, outcome, settledAt: new Date().toISOString()}
  await store.markStop(STOP_RECORDS.sourceLock, {state: 'done', output: settled})
}

/**
 * Settles the read-only switch an earlier `stop --cutover` made and did not settle (killed, or the
 * source was unreachable when it tried to put it back). A cutover that got as far as removing the
 * link leaves the source read-only on purpose: the replica has everything up to the final position,
 * and a writable old source would take writes the replica never sees. One that stopped earlier put
 * read_only back to what it was (OFF, as recorded): the link is still in place, nothing moved.
 */
export async function settleEarlierSourceLock(
  session: Pick<Session, 'source' | 'replica' | 'settings' | 'store'>,
  checkpoint: Checkpoint,
  ui: StepUi,
): Promise<SourceLockRecovery | null> {
  const pending = pendingSourceLock(checkpoint)
  if (!pending) return null
  const completed =
    removedRecord(checkpoint)?.output.via === 'cutover' ||
    (pending.phase === 'removing' && (await inspectLink(await session.replica(), session.settings)).kind === 'none')
  if (completed) {
    await settleSourceLock(session.store, 'kept')
    await session.store.journal('source-read-only-kept', {lockedAt: pending.at, why: 'the cutover had removed the link'})
    ui.info(`An earlier cutover made the source read-only at ${pending.at} and removed the link: the source stays read-only on purpose (SET GLOBAL read_only = OFF on it undoes that).`)
    return {action: 'kept', lockedAt: pending.at}
  }
  try {
    await setReadOnly(await session.source(), false)
  } catch (error) {
    // A stop must still work while the source is down: the record stays, and the next stop tries again.
    if (!(error instanceof DatainError) || error.exitCode !== ExitCode.unreachable) throw error
    ui.info(
      `An earlier cutover was interrupted after datain made the source read-only (at ${pending.at}), and the source cannot be reached now (${error.message}): ` +
        "read_only stays as it is; the next 'datain stop' puts it back, or run SET GLOBAL read_only = OFF on the source.",
    )
    return {action: 'pending', lockedAt: pending.at}
  }
  await settleSourceLock(session.store, 'restored')
  await session.store.journal('source-writable', {statement: 'SET GLOBAL read_only = OFF', why: 'an earlier cutover was interrupted before it removed the link'})
  ui.info(`An earlier cutover was interrupted after datain made the source read-only (at ${pending.at}), before the link was removed: read_only is OFF again, as it was.`)
  return {action: 'restored', lockedAt: pending.at}
}

export async function readOnly(source: Connection): Promise<boolean> {
  const [row] = (await source.query('SELECT @@global.read_only AS ro')) as Array<{ro: unknown}>
  return isOn(row?.ro)
}

export async function setReadOnly(source: Connection, on: boolean): Promise<void> {
  try {
    // SET GLOBAL read_only takes the global read lock: bounded, so that a long statement cannot hang the cutover.
    await source.query(`SET SESSION lock_wait_timeout = ${READ_ONLY_LOCK_WAIT_S}`)
    await source.query(`SET GLOBAL read_only = ${on ? 'ON' : 'OFF'}`)
  } catch (error) {
    throw readOnlyError(error, on)
  }
}

function readOnlyError(error: unknown, on: boolean): DatainError {
  const errno = sqlErrno(error)
  const text = (error as {sqlMessage?: string}).sqlMessage ?? (error as Error)?.message ?? String(error)
  if (errno === 1227) {
    return new DatainError(
      `The source refused SET GLOBAL read_only = ${on ? 'ON' : 'OFF'} (error 1227: ${text}): datain's source user needs READ_ONLY ADMIN (MariaDB 10.5.2 and later) or SUPER.`,
      {code: 'E_SOURCE_READ_ONLY', exit: ExitCode.failed, cause: error, suggestions: ["GRANT READ_ONLY ADMIN ON *.* TO <datain's source user>"]},
    )
  }
  if (errno === 1205) {
    return new DatainError(
      `The source could not be made read-only within ${READ_ONLY_LOCK_WAIT_S} s: a long statement or a table lock held the global read lock off (error 1205). ` +
        'Run the cutover again when the source is quieter.',
      {code: 'E_SOURCE_READ_ONLY', exit: ExitCode.failed, cause: error},
    )
  }
  return new DatainError(`The source refused SET GLOBAL read_only = ${on ? 'ON' : 'OFF'}${errno === undefined ? '' : ` (error ${errno})`}: ${text}`, {
    code: 'E_SOURCE_READ_ONLY',
    exit: errno === undefined ? ExitCode.unreachable : ExitCode.failed,
    cause: error,
  })
}
