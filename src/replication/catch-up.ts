import type {Connection} from 'mariadb'
import {interruptedError, pauseUnlessInterrupted} from '../lib/client-tool-errors.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {connectionLost} from '../lib/mariadb.js'
import {type HintContext, replicationHint, type ThreadError} from './hints.js'
import {
  type ReplicaStatus,
  type ReplicationLag,
  type ReplicationMode,
  type SourcePosition,
  DEFAULT_CONNECT_RETRY,
  describeLag,
  readGtidSlavePos,
  readReplicaStatus,
  readSourcePosition,
  replicationLag,
  RESTART_MARGIN_SECONDS,
  SERVER_DOWN_ERRORS,
} from './slave-status.js'

/** A connection, or a function that returns one that works (the session's, which opens a dropped one again). */
export type ConnectionSource = Connection | (() => Promise<Connection>)

export interface CatchUpOptions {
  /** Given as a function, it is asked again for each look: a connection the replica dropped is opened again. */
  replica: ConnectionSource
  source: ConnectionSource
  mode: ReplicationMode
  signal: AbortSignal
  /** Give up after this long (exit 5, still replicating). Default 30 minutes. */
  timeoutMs?: number
  /** Time between two looks at the replica once the wait has gone on a while (see FIRST_LOOK_MS). Default 1 s. */
  pollMs?: number
  /**
   * How long the IO thread may keep retrying a connection that fails (Connecting, with an error)
   * before datain calls replication broken: a blip heals on the next retry, a refused login or a bad
   * CA does not. Default 30 s.
   */
  ioErrorGraceMs?: number
  /** Called after each look, with the lag and how long the wait has run. */
  onProgress?: (lag: ReplicationLag, elapsedMs: number) => void
  hint?: HintContext
}

export interface CatchUpResult {
  /** The source's position read when the wait began: what the replica had to reach. */
  target: SourcePosition
  status: ReplicaStatus
  gtidSlavePos: string
  lag: ReplicationLag
}

export const DEFAULT_CATCH_UP_TIMEOUT_MS = 30 * 60_000

/**
 * The first pause between two looks, doubled after each look up to `pollMs`: a replica that catches
 * up in a moment (a fresh snapshot, a second start) is seen to within 50 ms rather than a whole
 * `pollMs`, and a long wait still looks once a `pollMs` (50, 100, 200, 400, 800 ms, then 1 s: five
 * looks more in the first two seconds, each two small queries).
 */
export const FIRST_LOOK_MS = 50

/** The pause after the `looks`-th look (from 1) at the replica. */
export function pauseAfterLook(looks: number, pollMs: number): number {
  return Math.min(pollMs, FIRST_LOOK_MS * 2 ** Math.min(looks - 1, 30))
}

/** Looks in a row that may find datain's replica connection dropped before the wait gives up. */
const RECONNECTS_IN_A_ROW = 3

/**
 * Waits until both replica threads run and the replica has applied everything the source had written
 * when the wait began (GTID per domain, or file/position; see {@link replicationLag}). Fails with
 * E_REPLICATION_BROKEN (exit 3) as soon as a thread stops, quoting the replica's own error and a hint;
 * with E_REPLICATION_LAGGING (exit 5) when the time is up while it still replicates; with
 * E_INTERRUPTED when `signal` aborts.
 */
export async function waitUntilCaughtUp(options: CatchUpOptions): Promise<CatchUpResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CATCH_UP_TIMEOUT_MS
  const pollMs = options.pollMs ?? 1000
  const graceMs = options.ioErrorGraceMs ?? 30_000
  const started = Date.now()
  throwIfAborted(options.signal)
  const target = await readSourcePosition(await connection(options.source))
  let ioFailingSince: number | undefined
  let stoppedSince: number | undefined
  let lostInARow = 0
  let looks = 0

  for (;;) {
    let status: ReplicaStatus | undefined
    let gtidSlavePos = ''
    try {
      const replica = await connection(options.replica)
      status = await readReplicaStatus(replica)
      if (status && options.mode === 'gtid') gtidSlavePos = await readGtidSlavePos(replica)
      lostInARow = 0
    } catch (error) {
      if (!connectionLost(error)) throw error
      // The replica dropped datain's connection (a KILL, a restart, wait_timeout): replication goes on
      // without it, so look again on a new one rather than fail the whole wait.
      if (typeof options.replica !== 'function' || ++lostInARow > RECONNECTS_IN_A_ROW) throw connectionLostError(error, options.hint)
      await pauseUnlessInterrupted(pollMs, options.signal)
      continue
    }
    if (!status) throw notLinked(options.hint)
    looks++
    const lag = replicationLag(status, gtidSlavePos, target, options.mode)
    const elapsed = Date.now() - started
    options.onProgress?.(lag, elapsed)
    if (lag.caughtUp) return {target, status, gtidSlavePos, lag}

    const failure = threadFailure(status)
    if (failure) {
      // A connection the IO thread keeps retrying may still heal; a stopped thread will not.
      const retrying = failure.thread === 'io' && status.ioThread === 'connecting'
      ioFailingSince = retrying ? (ioFailingSince ?? elapsed) : undefined
      if (!retrying || elapsed - ioFailingSince! >= ioGrace(failure, status, graceMs)) throw brokenError(failure, status, options.hint)
    } else {
      ioFailingSince = undefined
    }
    // Both threads stopped with no error: someone stopped replication (az_replication_stop).
    if (status.ioThread === 'stopped' && !status.sqlRunning && !failure) {
      stoppedSince ??= elapsed
      if (elapsed - stoppedSince >= Math.min(graceMs, 5000)) throw stoppedError(options.hint)
    } else {
      stoppedSince = undefined
    }

    if (elapsed >= timeoutMs) throw failure ? brokenError(failure, status, options.hint) : laggingError(lag, timeoutMs, options.hint)
    await pauseUnlessInterrupted(Math.min(pauseAfterLook(looks, pollMs), Math.max(0, timeoutMs - elapsed)), options.signal)
  }
}

/**
 * How long a failing IO thread may retry: `graceMs`, and for a source that was down (restarted)
 * at least one full `Connect_Retry` and a margin, since the replica tries again only that often
 * (60 s by default): a source back after a restart must not make the wait call replication broken
 * before the replica's next try.
 */
export function ioGrace(failure: ThreadError, status: ReplicaStatus, graceMs: number): number {
  if (!SERVER_DOWN_ERRORS.has(failure.errno)) return graceMs
  return Math.max(graceMs, ((status.connectRetry ?? DEFAULT_CONNECT_RETRY) + RESTART_MARGIN_SECONDS) * 1000)
}

async function connection(source: ConnectionSource): Promise<Connection> {
  return typeof source === 'function' ? source() : source
}

function connectionLostError(error: unknown, hint: HintContext = {}): DatainError {
  const detail = String((error as Error)?.message ?? error).replace(/^\(conn:[^)]*\)\s*/, '')
  const p = hint.profile && hint.profile !== 'default' ? ` --profile ${hint.profile}` : ''
  return new DatainError(
    `datain lost its connection to the replica while it waited for the catch-up (${detail}). Replication goes on without it; ` +
      `'datain start${p}' again waits for the catch-up again.`,
    {code: 'E_REPLICA_CONNECTION', exit: ExitCode.unreachable, cause: error},
  )
}

/** The error a stopped (or failing) thread reports, SQL thread first: it is the one that lost data. */
export function threadFailure(status: ReplicaStatus): ThreadError | undefined {
  if (!status.sqlRunning && status.lastSqlErrno !== 0) return {thread: 'sql', errno: status.lastSqlErrno, message: status.lastSqlError}
  if (status.ioThread !== 'running' && status.lastIoErrno !== 0) return {thread: 'io', errno: status.lastIoErrno, message: status.lastIoError}
  return undefined
}

/** E_REPLICATION_BROKEN (exit 3): the replica's own words, and what to do. */
export function brokenError(failure: ThreadError, status: ReplicaStatus, hint: HintContext = {}): DatainError {
  const which = failure.thread === 'sql' ? 'SQL thread (which applies the changes)' : 'IO thread (which reads the source’s binary log)'
  const how = failure.thread === 'io' && status.ioThread === 'connecting' ? 'keeps failing' : 'stopped'
  const advice = replicationHint(failure, hint)
  return new DatainError(
    `Replication is broken: the replica's ${which} ${how} with error ${failure.errno}: ${failure.message.trim() || '(no text)'}` +
      (advice ? `\n${advice.text}` : ''),
    {code: 'E_REPLICATION_BROKEN', exit: ExitCode.broken, suggestions: advice?.commands},
  )
}

function stoppedError(hint: HintContext = {}): DatainError {
  const stop = hint.controls?.stop ?? 'datain stop'
  return new DatainError(
    `Replication stopped on the replica without an error (both threads are off): someone ran ${stop}, or the replica restarted. ` +
      `Run datain start again to start it and wait for the catch-up.`,
    {code: 'E_REPLICATION_BROKEN', exit: ExitCode.broken},
  )
}

function notLinked(hint: HintContext = {}): DatainError {
  return new DatainError(
    'The replica has no replication source (SHOW SLAVE STATUS is empty, or shows a removed link): the link was removed while datain waited, or was never made. Run datain start again to link it.',
    {code: 'E_NOT_LINKED', exit: ExitCode.broken, suggestions: [`datain start${hint.profile && hint.profile !== 'default' ? ` --profile ${hint.profile}` : ''}`]},
  )
}

function laggingError(lag: ReplicationLag, timeoutMs: number, hint: HintContext = {}): DatainError {
  const p = hint.profile && hint.profile !== 'default' ? ` --profile ${hint.profile}` : ''
  return new DatainError(
    `Replication runs, but the replica has not caught up with the source after ${formatWait(timeoutMs)}: ${describeLag(lag)}. ` +
      `It goes on by itself; 'datain status${p} --watch' follows it, ` +
      `and 'datain start${p}' again waits for the catch-up again.`,
    {code: 'E_REPLICATION_LAGGING', exit: ExitCode.lagging, suggestions: [`datain status${p} --watch`]},
  )
}

function formatWait(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 6000) / 10} min` : `${Math.round(ms / 100) / 10} s`
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw interruptedError()
}
