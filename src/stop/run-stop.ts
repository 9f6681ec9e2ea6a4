import {openProfile} from '../state/profile-store.js'
import {openSession, type Session} from '../engine/session.js'
import {openSetupCheckpoint, setupMode} from '../engine/setup-checkpoint.js'
import type {Checkpoint} from '../state/schema.js'
import type {ReplicationControls} from '../targets/target.js'
import {hintControls, type HintContext} from '../replication/hints.js'
import type {ReplicaStatus, ReplicationMode} from '../replication/slave-status.js'
import type {StepUi} from '../steps/step.js'
import {cleanup, type CleanupResult} from './cleanup.js'
import {recordNoLink} from './no-link.js'
import {cutover, type CutoverOutcome} from './cutover.js'
import {enableReplicaEvents} from './events.js'
import {describePosition, inspectLink, type LinkState, removeLink, replicaPosition, stopThreads, threadsStarted} from '../replication/link-state.js'
import {cleanupBeforeRemove, linkedElsewhere, notLinkedYet, refuseCutoverFlags, removedWithoutCutover} from './refusals.js'
import {pendingSourceLock, settleEarlierSourceLock, type SourceLockRecovery} from './source-lock.js'
import {verifyBeforeCutover} from './verify-first.js'
import {markReplicationStopped, removedRecord, type RemovedOutput, type ReplicaPosition, STOP_RECORDS} from '../state/stop-records.js'

export interface StopOptions {
  home: string
  profile: string
  /** Also remove the link: the replica stands alone. */
  remove: boolean
  /** Wait until the replica has applied everything the source wrote, then stop and remove. */
  cutover: boolean
  /**
   * Make the source read-only for the last stretch of the cutover; undefined: not given (the cutover
   * then fences the source). Given without `cutover`: a usage error.
   */
  lockSource?: boolean
  /** Remove what datain created (replication user, firewall rules, server parameters); with or after a removal. */
  cleanup: boolean
  /** How long the cutover waits for the catch-up; default 10 min. Given without `cutover`: a usage error. */
  timeoutMs?: number
  /**
   * Compare the replica with the source (`datain verify`) once it has caught up, before the link
   * is removed: a difference ends the cutover with the link in place. Given without `cutover`: a usage error.
   */
  verify?: boolean
  pollMs?: number
  signal: AbortSignal
  ui: StepUi
}

/** What the cutover did, as `--json` shows it. */
export interface CutoverResult extends Omit<CutoverOutcome, 'removedAt'> {
  completedAt: string
  /** `db.event` enabled on the replica (they were DISABLE ON SLAVE). */
  eventsEnabled: string[]
  /** `@@global.event_scheduler` on the replica: the events run only when it is ON. */
  eventScheduler: string
  /** The replica's read_only is ON: the application cannot write to it yet. Unknown (undefined) for a cutover done earlier. */
  replicaReadOnly?: boolean
  /** What undoes the read-only switch datain left on the source; null when datain did not set it. */
  undo: string | null
  /** An earlier `stop --cutover` had done it: only the events were looked at again. */
  alreadyDone: boolean
  /** Set with --no-lock-source: what the replica may lack. */
  warning: string | null
}

/** `datain stop`'s result (`--json`). */
export interface StopResult {
  profile: string
  /** What was asked. */
  action: 'stop' | 'remove' | 'cutover' | 'cleanup'
  mode: ReplicationMode
  /** Where the link stands now: `stopped` (in place; `datain start` starts it again) or `removed` (the replica stands alone). */
  link: 'stopped' | 'removed'
  /** What this run changed; both false when it found the work done already. */
  stoppedNow: boolean
  removedNow: boolean
  /** Where the replica had applied up to when it stopped; null when not known (removed by hand, or never linked). */
  position: ReplicaPosition | null
  cutover: CutoverResult | null
  cleanup: CleanupResult | null
  /** An earlier cutover's read-only switch on the source, which it left unsettled (killed), settled by this run; null when none. */
  sourceReadOnly: SourceLockRecovery | null
}

/**
 * `datain stop`: stops replication (the target's stop: `az_replication_stop` on Azure, STOP SLAVE), and with `remove` also removes the link
 * (`az_replication_remove_master`, RESET SLAVE ALL); `cutover` first waits until the replica has applied all the
 * source wrote; `cleanup` then removes what datain created. Every part looks first at the replica,
 * so that it is safe to repeat: what is done already is reported, not done again. What makes no
 * sense is refused with exit 2: nothing linked yet, `--cleanup` before any removal, a cutover after
 * a removal without one. A link to another source is never touched (exit 1).
 */
export async function runStop(options: StopOptions): Promise<StopResult> {
  const action: StopResult['action'] = options.cutover ? 'cutover' : options.remove ? 'remove' : options.cleanup ? 'cleanup' : 'stop'
  if (!options.cutover) refuseCutoverFlags(options)
  // What makes no sense is refused from the checkpoint alone, before any password is asked for or server reached.
  const store = openProfile(options.home, options.profile)
  await store.readSettings()
  const before = await store.readCheckpoint()
  refuseWhatMakesNoSense(before, options)
  const session = await openSession({
    home: options.home,
    profile: options.profile,
    lockFor: `stop${options.cutover ? ' --cutover' : options.remove ? ' --remove' : ''}${options.cleanup ? ' --cleanup' : ''}`,
    // Stopping or removing needs only the replica: it works while the source is down.
    needsSource: options.cutover || options.cleanup || pendingSourceLock(before) !== undefined,
    note: (m) => options.ui.info(m),
  })
  try {
    const checkpoint = await openSetupCheckpoint(session, {command: 'stop'})
    const mode = setupMode(checkpoint, session.settings)
    const result: StopResult = {profile: options.profile, action, mode, link: 'stopped', stoppedNow: false, removedNow: false, position: null, cutover: null, cleanup: null, sourceReadOnly: null}
    // Again under the lock: another datain may have changed the checkpoint meanwhile.
    refuseWhatMakesNoSense(checkpoint, options)
    // First, before anything reads read_only: a switch of datain's own is never taken for the DBA's.
    result.sourceReadOnly = await settleEarlierSourceLock(session, checkpoint, options.ui)
    const removed = removedRecord(checkpoint)
    if (removed) {
      result.link = 'removed'
      result.position = removed.output.position
      if (action !== 'cleanup') options.ui.info(`The link was already removed at ${removed.output.removedAt}: the replica stands alone.`)
      // A cutover that failed after the removal (enabling events) is finished here.
      if (options.cutover) result.cutover = await finishCutover(session, checkpoint, removed.output, undefined)
    } else {
      await stopOrRemove(session, checkpoint, options, result)
    }

    if (options.cleanup) result.cleanup = await cleanup({session, checkpoint: await session.store.readCheckpoint(), ui: options.ui})
    return result
  } finally {
    await session.close()
  }
}

/**
 * The refusals that need no server (exit 2): --cleanup before any removal, a cutover after a removal
 * without one, and anything but abandoning (--remove --cleanup) a setup that has not linked yet.
 */
function refuseWhatMakesNoSense(checkpoint: Checkpoint, options: StopOptions): void {
  const wantRemove = options.remove || options.cutover
  const removed = removedRecord(checkpoint)
  if (options.cleanup && !wantRemove && !removed) throw cleanupBeforeRemove(options.profile)
  if (removed) {
    if (options.cutover && removed.output.via !== 'cutover') throw removedWithoutCutover(options.profile, removed.output)
    return
  }
  // The link step records itself before it calls Azure's procedure: without a record, nothing was linked.
  if (checkpoint.steps.link === undefined && !(checkpoint.fingerprint && abandoning(options))) throw notLinkedYet(options.profile, checkpoint)
}

/** `--remove --cleanup` on a setup that never linked: end it and remove what it created. */
function abandoning(options: StopOptions): boolean {
  return options.remove && options.cleanup && !options.cutover
}

async function stopOrRemove(session: Session, checkpoint: Checkpoint, options: StopOptions, result: StopResult): Promise<void> {
  const {store} = session
  const wantRemove = options.remove || options.cutover
  const link: LinkState =
    checkpoint.steps.link === undefined ? {kind: 'none'} : await inspectLink(await session.replica(), session.settings)

  if (link.kind === 'other') throw linkedElsewhere(session, link)
  if (link.kind === 'none') return recordNoLink(session, checkpoint, options, result)

  const replica = await session.replica()
  const controls = await session.target.replication.open(replica, ['stop', ...(wantRemove ? (['remove'] as const) : []), ...(options.cutover ? (['start'] as const) : [])])
  if (options.cutover) return cutOverAndRecord(session, options, result, controls, link.status)

  let status = link.status
  const at = new Date().toISOString()
  if (threadsStarted(status)) {
    status = await stopThreads(replica, controls)
    result.stoppedNow = true
  }
  result.position = await replicaPosition(replica, status, result.mode)
  if (result.stoppedNow) {
    await store.journal('replication-stopped', {by: 'stop', position: result.position})
    options.ui.info(`Stopped replication on the replica at ${describePosition(result.position)}.`)
  } else if (!wantRemove) {
    options.ui.info(`Replication was already stopped on the replica (at ${describePosition(result.position)}): nothing to do.`)
  }
  if (status.lastSqlErrno !== 0 || status.lastIoErrno !== 0) {
    const errno = status.lastSqlErrno || status.lastIoErrno
    options.ui.info(`Note: the replica's last error was ${errno}: ${(status.lastSqlError || status.lastIoError).trim()}`)
  }

  if (!wantRemove) {
    if (result.stoppedNow || checkpoint.steps.replicate?.state === 'done') await markReplicationStopped(store, 'stopped', at)
    result.link = 'stopped'
    return
  }
  await removeLink(replica, controls)
  const removedAt = new Date().toISOString()
  const output: RemovedOutput = {removedAt, via: 'remove', linked: true, position: result.position}
  await store.markStop(STOP_RECORDS.removed, {state: 'done', output})
  await markReplicationStopped(store, 'removed', removedAt)
  await store.journal('link-removed', {by: 'stop --remove', ...output})
  options.ui.info(`Removed the replication link (${controls.name('remove')}): the replica stands alone.`)
  result.link = 'removed'
  result.removedNow = true
}

/** `--cutover`: the cutover, then its record. */
async function cutOverAndRecord(session: Session, options: StopOptions, result: StopResult, controls: ReplicationControls, status: ReplicaStatus): Promise<void> {
  const {store} = session
  const hint: HintContext = {controls: hintControls(controls), profile: options.profile}
  const outcome = await cutover({
    session,
    mode: result.mode,
    controls,
    status,
    lockSource: options.lockSource ?? true,
    timeoutMs: options.timeoutMs,
    pollMs: options.pollMs,
    signal: options.signal,
    ui: options.ui,
    hint,
    verify: options.verify ? () => verifyBeforeCutover(session, options) : undefined,
  })
  const output: RemovedOutput = {removedAt: outcome.removedAt, via: 'cutover', linked: true, position: outcome.replicaPosition, cutover: {...outcome}}
  await store.markStop(STOP_RECORDS.removed, {state: 'done', output})
  await markReplicationStopped(store, 'removed', outcome.removedAt)
  await store.journal('link-removed', {by: 'stop --cutover', ...output})
  options.ui.info(`Removed the replication link: the replica has applied everything the source wrote (${describePosition(outcome.replicaPosition)}) and stands alone.`)
  Object.assign(result, {link: 'removed', stoppedNow: true, removedNow: true, position: outcome.replicaPosition})
  result.cutover = await finishCutover(session, await store.readCheckpoint(), output, outcome)
}

/** Enables the replica's events (again: safe to repeat) and records them; the cutover's result. */
async function finishCutover(session: Session, checkpoint: Checkpoint, removed: RemovedOutput, outcome: CutoverOutcome | undefined): Promise<CutoverResult> {
  const recorded = removed.cutover ?? {}
  // The cutover's outcome is kept as the cutover wrote it; only its events are read back here.
  const base = outcome ?? (recorded as unknown as CutoverOutcome)
  // A repeated cutover whose events were enabled does not need the replica (a cleanup may have closed its firewall since).
  if (!outcome && recorded.eventsEnabled) {
    return {...cutoverResult(base, removed, recorded.eventsEnabled, recorded.eventScheduler ?? 'unknown'), alreadyDone: true}
  }
  const copied = checkpoint.steps.snapshot?.output?.databases ?? []
  const databases = copied.length > 0 ? copied : session.settings.databases
  const events = await enableReplicaEvents(await session.replica(), databases)
  const eventsEnabled = [...new Set([...(recorded.eventsEnabled ?? []), ...events.enabled])]
  if (events.enabled.length > 0) {
    await session.store.journal('events-enabled', {events: events.enabled})
  }
  const result = {...cutoverResult(base, removed, eventsEnabled, events.scheduler), replicaReadOnly: events.readOnly, alreadyDone: outcome === undefined}
  await session.store.markStop(STOP_RECORDS.removed, {state: 'done', output: {...removed, cutover: {...base, eventsEnabled, eventScheduler: events.scheduler}}})
  await session.store.journal('cutover-complete', {...result})
  return result
}

function cutoverResult(base: CutoverOutcome, removed: RemovedOutput, eventsEnabled: string[], eventScheduler: string): CutoverResult {
  const lock = base.source
  return {
    finalPosition: base.finalPosition,
    replicaPosition: base.replicaPosition,
    waitedSeconds: base.waitedSeconds,
    rounds: base.rounds,
    startedReplication: base.startedReplication,
    source: lock,
    completedAt: removed.removedAt,
    eventsEnabled,
    eventScheduler,
    undo: lock?.locked ? 'SET GLOBAL read_only = OFF' : null,
    alreadyDone: false,
    warning:
      lock && !lock.requested
        ? 'The source was not made read-only (--no-lock-source): writes made to it after the final position are not on the replica.'
        : null,
  }
}
