import type {Connection} from 'mariadb'
import type {Session} from '../engine/session.js'
import {DEFAULT_CUTOVER_TIMEOUT_MS} from './defaults.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {brokenError, threadFailure, waitUntilCaughtUp} from '../replication/catch-up.js'
import type {HintContext} from '../replication/hints.js'
import {compareCoordinates, gtidIncludes} from '../replication/position.js'
import type {ReplicationControls} from '../targets/target.js'
import {describeLag, type ReplicaStatus, type ReplicationMode, readReplicaStatus, readSourcePosition, type SourcePosition} from '../replication/slave-status.js'
import type {StepUi} from '../steps/step.js'
import {removeLink, replicaPosition, stopThreads, threadsStarted} from '../replication/link-state.js'
import {beginSourceLock, readOnly, setReadOnly, settleSourceLock, sourceLockPhase} from './source-lock.js'
import type {ReplicaPosition} from '../state/stop-records.js'

/** How many times the cutover stops replication and finds that the source wrote again meanwhile. */
const MAX_ROUNDS = 3


export interface CutoverOptions {
  session: Pick<Session, 'replica' | 'source' | 'store'>
  mode: ReplicationMode
  controls: ReplicationControls
  /** The replica's status, linked to this profile's source. */
  status: ReplicaStatus
  /** Make the source read-only (`SET GLOBAL read_only = ON`) before the last catch-up; false: --no-lock-source. */
  lockSource: boolean
  timeoutMs?: number
  pollMs?: number
  signal: AbortSignal
  ui: StepUi
  hint: HintContext
  /** `--verify`: compares the replica with the source once it has caught up; throws when they differ. Returns what to say. */
  verify?: () => Promise<string>
}

/** What the source's read-only switch went through. */
export interface SourceLock {
  requested: boolean
  /** read_only was already ON before the cutover: datain changed nothing. */
  wasReadOnly: boolean
  /** datain set read_only = ON. */
  locked: boolean
  /** From `SET GLOBAL read_only = ON` until the link was removed; null when datain did not lock. */
  writesBlockedSeconds: number | null
  /** read_only at the end. */
  readOnly: boolean
}

export interface CutoverOutcome {
  /** The source's position once replication stopped, which the replica had applied. */
  finalPosition: SourcePosition
  /** The replica's position at the same moment. */
  replicaPosition: ReplicaPosition
  removedAt: string
  waitedSeconds: number
  /** Catch-up rounds: more than one when the source wrote again while replication stopped. */
  rounds: number
  /** Replication was stopped (without an error) when the cutover began: datain started it to catch up. */
  startedReplication: boolean
  source: SourceLock
}

/**
 * The planned move of an application to the replica: waits until the replica has applied
 * everything the source wrote (GTID per domain, or file/position; never Seconds_Behind_Master),
 * stops replication, checks that the source did not write again meanwhile (else starts it again and
 * waits again, a few times), and removes the link. With `lockSource` (the default), the source is
 * made read-only after a first catch-up, so that writes are blocked only for the last stretch; the
 * checkpoint records it before the SET (see source-lock.ts), so that a later `datain stop` settles a
 * switch this run could not.
 *
 * Should anything fail before the link is removed, datain puts things back as it found them: the
 * source writable again (if datain locked it) and replication running (or stopped) as before; the
 * error says so, or says what is left to do by hand. Broken replication (a thread stopped on an
 * error) is refused up front, exit 3: the replica does not have everything and will not get it.
 */
export async function cutover(o: CutoverOptions): Promise<CutoverOutcome> {
  const replica = await o.session.replica()
  const source = await o.session.source()
  refuseBroken(o)
  const began = Date.now()
  const run: CutoverRun = {
    o,
    replica,
    source,
    runningBefore: threadsStarted(o.status),
    lock: {requested: o.lockSource, wasReadOnly: false, locked: false, writesBlockedSeconds: null, readOnly: false},
    recorded: false,
    startedReplication: false,
  }
  let removed = false
  try {
    if (!run.runningBefore) {
      await o.controls.start()
      run.startedReplication = true
      await o.session.store.journal('replication-started', {by: 'stop --cutover'})
      o.ui.info('Replication was stopped: started it, so that the replica catches up before the cutover.')
    }
    await fenceSource(run)
    const {rounds, finalPosition, position} = await stopAtFinalPosition(run)
    await o.session.store.journal('replication-stopped', {by: 'stop --cutover', position})

    if (run.recorded) await sourceLockPhase(o.session.store, 'removing')
    await removeLink(replica, o.controls)
    removed = true
    // The replica has everything up to the final position: the source stays read-only on purpose.
    if (run.recorded) await settleSourceLock(o.session.store, 'kept')
    const removedAt = new Date()
    if (run.lockedAt !== undefined) run.lock.writesBlockedSeconds = (removedAt.getTime() - run.lockedAt) / 1000
    run.lock.readOnly = run.lock.locked || run.lock.wasReadOnly
    return {
      finalPosition,
      replicaPosition: position,
      removedAt: removedAt.toISOString(),
      waitedSeconds: (removedAt.getTime() - began) / 1000,
      rounds,
      startedReplication: run.startedReplication,
      source: run.lock,
    }
  } catch (error) {
    if (removed) throw error
    const said = await putBack(o, {runningBefore: run.runningBefore, lockedBySelf: run.lock.locked, recorded: run.recorded})
    if (!(error instanceof DatainError)) throw error
    throw cutoverError(o, error, said)
  }
}

/** One cutover as it goes: what it found, and what it changed that a failure must put back. */
interface CutoverRun {
  o: CutoverOptions
  replica: Connection
  source: Connection
  runningBefore: boolean
  lock: SourceLock
  lockedAt?: number
  /** Set once the record says datain makes the source read-only: from then on, only a settled record ends it. */
  recorded: boolean
  startedReplication: boolean
}

/** Broken replication (a thread stopped on an error) is refused up front, exit 3; an IO thread still retrying is not broken. */
function refuseBroken(o: CutoverOptions): void {
  const failure = threadFailure(o.status)
  if (!failure || (failure.thread === 'io' && o.status.ioThread === 'connecting')) return
  const broken = brokenError(failure, o.status, o.hint)
  throw new DatainError(`No cutover: the replica does not have everything the source wrote, and will not get it. ${broken.message}`, {
    code: broken.code ?? 'E_REPLICATION_BROKEN',
    exit: ExitCode.broken,
    suggestions: broken.suggestions,
  })
}

/** Waits until the replica has applied what the source wrote, showing the lag. */
async function catchUp(run: CutoverRun, what: string): Promise<void> {
  const {o} = run
  if (o.signal.aborted) throw interrupted()
  await waitUntilCaughtUp({
    replica: run.replica,
    source: run.source,
    mode: o.mode,
    signal: o.signal,
    timeoutMs: o.timeoutMs ?? DEFAULT_CUTOVER_TIMEOUT_MS,
    pollMs: o.pollMs,
    hint: o.hint,
    // Only while behind: "Catching up (0 s): caught up" said nothing.
    onProgress: (lag, elapsed) => {
      if (!lag.caughtUp) o.ui.status(`${what} (${Math.round(elapsed / 1000)} s): ${describeLag(lag)}`)
    },
  })
}

/** With `lockSource`: a first catch-up with the source still writable, then read_only, recorded before it is set. */
async function fenceSource(run: CutoverRun): Promise<void> {
  const {o, lock} = run
  if (!o.lockSource) {
    o.ui.info('--no-lock-source: the source stays writable, so writes made to it after the final position will not be on the replica.')
    return
  }
  // A first catch-up with the source still writable: writes are then blocked only for what comes after.
  await catchUp(run, 'Catching up before the source is made read-only')
  lock.wasReadOnly = await readOnly(run.source)
  if (lock.wasReadOnly) {
    o.ui.info('The source is already read-only (read_only=ON): datain leaves it as it is.')
    return
  }
  await beginSourceLock(o.session.store)
  run.recorded = true
  await setReadOnly(run.source, true)
  run.lockedAt = Date.now()
  lock.locked = true
  await sourceLockPhase(o.session.store, 'locked')
  await o.session.store.journal('source-read-only', {statement: 'SET GLOBAL read_only = ON'})
  o.ui.info('Made the source read-only (SET GLOBAL read_only = ON): writes are blocked from now until the cutover ends.')
}

/**
 * Catches up, stops replication, and checks that the source did not write again meanwhile; if it
 * did, starts replication again and catches up once more, a few times at most.
 */
async function stopAtFinalPosition(run: CutoverRun): Promise<{rounds: number; finalPosition: SourcePosition; position: ReplicaPosition}> {
  const {o, replica, source} = run
  for (let rounds = 1; ; rounds++) {
    await catchUp(run, 'Waiting for the replica to apply everything the source wrote')
    if (o.signal.aborted) throw interrupted()
    // Once, with replication still running (the comparison needs it) and the source fenced when it is.
    if (o.verify && rounds === 1) o.ui.info(`Verified: ${await o.verify()}.`)
    const stopped = await stopThreads(replica, o.controls)
    const position = await replicaPosition(replica, stopped, o.mode)
    const finalPosition = await readSourcePosition(source)
    if (hasApplied(position, finalPosition, o.mode)) return {rounds, finalPosition, position}
    if (rounds >= MAX_ROUNDS) throw stillWriting(rounds, o.lockSource)
    o.ui.info('The source wrote again while replication was being stopped: starting it again to catch up once more.')
    await o.controls.start()
  }
}

/** The cutover's failure, with what was put back; the catch-up's own words name `datain start`, a cutover is run again as it was. */
function cutoverError(o: CutoverOptions, error: DatainError, said: string): DatainError {
  const message =
    error.code === 'E_INTERRUPTED'
      ? 'datain was interrupted during the cutover, before the link was removed.'
      : error.code === 'E_REPLICATION_LAGGING'
        ? `No cutover: the replica did not catch up with the source within ${Math.round((o.timeoutMs ?? DEFAULT_CUTOVER_TIMEOUT_MS) / 1000)} s (--timeout). ` +
          "Run the cutover again when it is closer ('datain status' shows the lag), or with a longer --timeout."
        : error.message
  const suggestions = error.code === 'E_REPLICATION_LAGGING' || error.code === 'E_INTERRUPTED' ? [] : error.suggestions
  return new DatainError(`${message} ${said}`, {code: error.code ?? 'E_CUTOVER', exit: error.exitCode, suggestions})
}

/** Whether the replica's applied position includes the source's. */
function hasApplied(position: ReplicaPosition, source: SourcePosition, mode: ReplicationMode): boolean {
  if (mode === 'gtid') return gtidIncludes(position.gtid, source.gtid)
  return position.file !== '' && compareCoordinates({file: position.file, position: position.position}, source) >= 0
}

/** Puts replication and the source's read-only switch back as they were; returns a sentence saying how it went. */
async function putBack(o: CutoverOptions, was: {runningBefore: boolean; lockedBySelf: boolean; recorded: boolean}): Promise<string> {
  const done: string[] = []
  const left: string[] = []
  try {
    const replica = await o.session.replica()
    const status = await readReplicaStatus(replica)
    if (status && was.runningBefore && !threadsStarted(status) && !threadFailure(status)) {
      await o.controls.start()
      done.push('replication runs again')
    } else if (status && !was.runningBefore && threadsStarted(status)) {
      await stopThreads(replica, o.controls)
      done.push('replication is stopped again, as it was')
    }
  } catch (error) {
    left.push(`replication could not be put back as it was (${messageOf(error)}): look at it with 'datain status' and run 'datain start' to start it again`)
  }
  if (was.recorded) {
    try {
      const source = await o.session.source()
      // A SET that failed (no privilege, lost connection) may or may not have taken: look before undoing.
      if (was.lockedBySelf || (await readOnly(source))) {
        await setReadOnly(source, false)
        await o.session.store.journal('source-writable', {statement: 'SET GLOBAL read_only = OFF', why: 'the cutover failed'})
        done.push('the source is writable again (read_only=OFF)')
      }
      await settleSourceLock(o.session.store, 'restored')
    } catch (error) {
      // The record stays unsettled: the next 'datain stop' puts read_only back.
      left.push(`the source may still be read-only (${messageOf(error)}): run 'datain stop', which puts it back, or SET GLOBAL read_only = OFF on it`)
    }
  }
  o.ui.info(done.length > 0 ? `The cutover did not happen; ${done.join(' and ')}.` : 'The cutover did not happen.')
  return (
    'The link is in place.' +
    (done.length > 0 ? ` datain put things back: ${done.join(', ')}.` : '') +
    (left.length > 0 ? ` Left to do by hand: ${left.join('; ')}.` : '')
  )
}

function stillWriting(rounds: number, locked: boolean): DatainError {
  const why = locked
    ? 'Although the source is read-only, something still writes to it: accounts with READ_ONLY ADMIN (SUPER before 10.11), or events and replication threads of the source itself.'
    : 'The application (or something else) still writes to the source: stop its writes first, or let datain block them (run the cutover without --no-lock-source).'
  return new DatainError(
    `The source wrote again each time datain stopped replication for the cutover (${rounds} times), so the replica cannot be said to have everything it wrote. ${why}`,
    {code: 'E_SOURCE_STILL_WRITING', exit: ExitCode.failed, suggestions: ['datain stop --cutover']},
  )
}

function interrupted(): DatainError {
  return new DatainError('datain was interrupted during the cutover.', {code: 'E_INTERRUPTED', exit: ExitCode.failed})
}

function messageOf(error: unknown): string {
  return (error as {sqlMessage?: string}).sqlMessage ?? (error as Error)?.message ?? String(error)
}
