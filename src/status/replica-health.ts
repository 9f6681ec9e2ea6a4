import {threadFailure} from '../replication/catch-up.js'
import {type HintContext, replicationHint, type ThreadError} from '../replication/hints.js'
import {type BinlogCoordinate, compareCoordinates, parseGtidPosition} from '../replication/position.js'
import {
  DEFAULT_CONNECT_RETRY,
  linkedTo,
  RESTART_MARGIN_SECONDS,
  type ReplicaStatus,
  type ReplicationMode,
  replicationLag,
  SERVER_DOWN_ERRORS,
} from '../replication/slave-status.js'
import type {LiveSample, SourceSide} from './live.js'
import type {ApplyRate, ReplicationReport} from './status-report.js'

/** What the verdict needs beyond the report: the typed status and the error that stops replication. */
export interface ReplicationView {
  report: ReplicationReport
  applyRate: ApplyRate | null
  eta: number | null
  status: ReplicaStatus | undefined
  /** The error a stopped (or failing) thread reports, SQL thread first. */
  failure: ThreadError | undefined
  /**
   * The IO thread's failed try to connect while the source restarted, which it has not yet had its
   * next try after (see {@link reconnectingAfterRestart}): not a failure yet, so not in `failure`.
   */
  reconnecting: Reconnecting | undefined
  /** Behind the source by position; null when the source could not be read. */
  behind: boolean | null
  /** Linked to the profile's source (host, port, replication user); false when linked elsewhere or not at all. */
  linkedHere: boolean
}

export interface ViewOptions {
  mode: ReplicationMode
  /** Where the profile's source and replica are, as datain and the replica know them. */
  source: {host: string; port: number; publicHost: string; replicationUser: string}
  replica: {host: string; port: number}
  hint: HintContext
}

/**
 * The replication part of the report from the latest sample and, when there is one, an earlier one
 * for the apply rate. The lag is counted from positions (GTIDs per domain, binlog coordinates), so it
 * stays true when Seconds_Behind_Master is NULL (a thread off) or 0 (the IO thread behind: the SQL
 * thread has applied all it was given).
 */
export function replicationView(sample: LiveSample, previous: LiveSample | undefined, options: ViewOptions): ReplicationView {
  const {mode} = options
  const source = sample.source.ok ? sample.source.value : undefined
  const sourceReport = {
    host: options.source.host,
    port: options.source.port,
    reachable: sample.source.ok || !sample.source.unreachable,
    error: sample.source.ok ? null : sample.source.error,
    gtid: source?.gtid ?? null,
    file: source?.file ?? null,
    position: source?.position ?? null,
  }
  const replicaAt = {host: options.replica.host, port: options.replica.port}

  if (!sample.replica.ok) {
    const replica = {...replicaAt, gtidExecuted: null, file: null, position: null, readFile: null, readPosition: null, linkedTo: null}
    const report = unlinkedReport({reachable: false, error: sample.replica.error, mode, source: sourceReport, replica})
    return {report, applyRate: null, eta: null, status: undefined, failure: undefined, reconnecting: undefined, behind: null, linkedHere: false}
  }

  const {status, gtidSlavePos} = sample.replica.value
  const replicaReport = {
    ...replicaAt,
    gtidExecuted: gtidSlavePos,
    file: status?.relayMasterLogFile || null,
    position: status?.relayMasterLogFile ? status.execMasterLogPos : null,
    readFile: status?.masterLogFile || null,
    readPosition: status?.masterLogFile ? status.readMasterLogPos : null,
    linkedTo: status ? `${status.masterHost}:${status.masterPort}` : null,
  }
  if (!status) {
    const report = unlinkedReport({reachable: true, error: null, mode, source: sourceReport, replica: replicaReport})
    return {report, applyRate: null, eta: null, status, failure: undefined, reconnecting: undefined, behind: null, linkedHere: false}
  }

  const threadError = threadFailure(status)
  const reconnecting = threadError ? reconnectingAfterRestart(threadError, status, source) : undefined
  const failure = reconnecting ? undefined : threadError
  // The hint for what stops replication; else for a last error still shown (a thread that retries),
  // unless that is the source's restart, which needs nothing done.
  const hinted = failure ?? (reconnecting ? undefined : lastError(status))
  const hint = hinted ? (replicationHint(hinted, options.hint) ?? null) : null

  const {behind, caughtUp, transactions, bytes, files} = positionLag(status, gtidSlavePos, source, mode)
  const applyRate = previous ? rates(previous, sample, mode) : null
  const seconds = lagSeconds({behind, transactions, bytes, mode, secondsBehind: status.secondsBehindMaster, applyRate})
  const report: ReplicationReport = {
    reachable: true,
    error: null,
    linked: true,
    mode,
    io: status.ioThread,
    ioState: status.ioState || null,
    sql: status.sqlRunning ? 'running' : 'stopped',
    sqlState: status.sqlState || null,
    secondsBehind: status.secondsBehindMaster,
    caughtUp,
    lag: {transactions, bytes, files, seconds},
    source: sourceReport,
    replica: replicaReport,
    errors: {
      io: status.lastIoErrno !== 0 ? {errno: status.lastIoErrno, message: status.lastIoError} : null,
      sql: status.lastSqlErrno !== 0 ? {errno: status.lastSqlErrno, message: status.lastSqlError} : null,
    },
    hint,
  }
  const linkedHere = linkedTo(status, {host: options.source.publicHost, port: options.source.port, user: options.source.replicationUser})
  return {report, applyRate, eta: eta({behind, transactions, bytes, mode, applyRate}), status, failure, reconnecting, behind, linkedHere}
}

interface PositionLag {
  /** Behind the source by position; null (and the rest null) when the source could not be read. */
  behind: boolean | null
  caughtUp: boolean | null
  transactions: number | null
  bytes: number | null
  files: number | null
}

/** How far the replica's executed position is from the source's: in transactions (GTID), bytes and binlog files. */
function positionLag(status: ReplicaStatus, gtidSlavePos: string, source: SourceSide | undefined, mode: ReplicationMode): PositionLag {
  if (!source) return {behind: null, caughtUp: null, transactions: null, bytes: null, files: null}
  const lag = replicationLag(status, gtidSlavePos, source, mode)
  const gap = coordinateDistance(executed(status), source)
  if (mode !== 'gtid') return {behind: gap.behind, caughtUp: lag.caughtUp, transactions: null, bytes: gap.bytes, files: gap.files}
  const transactions = lag.transactions ?? 0
  return {behind: transactions > 0, caughtUp: lag.caughtUp, transactions, bytes: gap.bytes, files: gap.files}
}

/** An IO thread retrying after the source restarted: its last error, how long the source has run, how often the replica tries. */
export interface Reconnecting {
  errno: number
  sourceUptime: number
  connectRetry: number
}


/**
 * Whether the IO thread's failure is that of a source that restarted, and not (yet) a failure of
 * its own. A replica whose source goes down tries to connect at once, fails (the source is not
 * back yet), and tries again only `Connect_Retry` seconds later (60 by default): for up to a
 * minute after the source is back, it still shows Connecting with error 2003. That is a replica
 * reconnecting on its own, not one that keeps failing: when the error is one of a server down, the
 * source answers datain now and has been up for less than `Connect_Retry` (plus a margin), the
 * replica has not had its next try since the source came back. After that, the same error means
 * the replica tried the running source and failed: broken.
 */
export function reconnectingAfterRestart(failure: ThreadError, status: ReplicaStatus, source: SourceSide | undefined): Reconnecting | undefined {
  if (failure.thread !== 'io' || status.ioThread !== 'connecting' || !SERVER_DOWN_ERRORS.has(failure.errno)) return undefined
  if (source?.uptime === undefined || !Number.isFinite(source.uptime)) return undefined
  const connectRetry = status.connectRetry ?? DEFAULT_CONNECT_RETRY
  if (source.uptime > connectRetry + RESTART_MARGIN_SECONDS) return undefined
  return {errno: failure.errno, sourceUptime: source.uptime, connectRetry}
}

function lastError(status: ReplicaStatus): ThreadError | undefined {
  if (status.lastSqlErrno !== 0) return {thread: 'sql', errno: status.lastSqlErrno, message: status.lastSqlError}
  if (status.lastIoErrno !== 0) return {thread: 'io', errno: status.lastIoErrno, message: status.lastIoError}
  return undefined
}

/** The source coordinates the replica's SQL thread has executed up to. */
function executed(status: ReplicaStatus): BinlogCoordinate {
  return {file: status.relayMasterLogFile, position: status.execMasterLogPos}
}

/**
 * Bytes (same file) or files (different files) from `reached` to `target`; both null when the
 * replica has no coordinates yet (a GTID link whose IO thread never connected).
 */
export function coordinateDistance(reached: BinlogCoordinate, target: BinlogCoordinate): {behind: boolean; bytes: number | null; files: number | null} {
  if (reached.file === '') return {behind: true, bytes: null, files: null}
  if (compareCoordinates(reached, target) >= 0) return {behind: false, bytes: 0, files: 0}
  if (reached.file === target.file) return {behind: true, bytes: target.position - reached.position, files: 0}
  const fr = /\.(\d+)$/.exec(reached.file)
  const ft = /\.(\d+)$/.exec(target.file)
  return {behind: true, bytes: null, files: fr && ft ? Number(ft[1]) - Number(fr[1]) : null}
}

/** Transactions by which GTID position `later` is ahead of `earlier`, over the domains both know. */
export function gtidAdvance(earlier: string, later: string): number {
  const before = parseGtidPosition(earlier)
  let total = 0n
  for (const gtid of parseGtidPosition(later).values()) {
    const was = before.get(gtid.domain)
    // A domain that just appeared: how much of its sequence is new cannot be told.
    if (was && gtid.sequence > was.sequence) total += gtid.sequence - was.sequence
  }
  return Number(total)
}

/** Bytes between two coordinates of one file; null across files (a rotation), where the sizes are unknown. */
function byteAdvance(earlier: BinlogCoordinate, later: BinlogCoordinate): number | null {
  if (earlier.file === '' || earlier.file !== later.file) return null
  return Math.max(0, later.position - earlier.position)
}

/** What the replica executed, and the source wrote, per second between two samples. */
export function rates(previous: LiveSample, sample: LiveSample, mode: ReplicationMode): ApplyRate | null {
  const seconds = (sample.at - previous.at) / 1000
  if (seconds <= 0 || !previous.replica.ok || !sample.replica.ok) return null
  const before = previous.replica.value
  const after = sample.replica.value
  if (!before.status || !after.status) return null
  const per = (value: number | null) => (value === null ? null : value / seconds)
  const sourceBefore = previous.source.ok ? previous.source.value : undefined
  const sourceAfter = sample.source.ok ? sample.source.value : undefined
  return {
    transactionsPerSecond: mode === 'gtid' ? per(gtidAdvance(before.gtidSlavePos, after.gtidSlavePos)) : null,
    bytesPerSecond: per(byteAdvance(executed(before.status), executed(after.status))),
    sourceTransactionsPerSecond: mode === 'gtid' && sourceBefore && sourceAfter ? per(gtidAdvance(sourceBefore.gtid, sourceAfter.gtid)) : null,
    sourceBytesPerSecond: sourceBefore && sourceAfter ? per(byteAdvance(sourceBefore, sourceAfter)) : null,
    sampleSeconds: seconds,
  }
}

interface LagInput {
  behind: boolean | null
  transactions: number | null
  bytes: number | null
  mode: ReplicationMode
  applyRate: ApplyRate | null
}

/**
 * How far behind in time. Caught up by position: 0. Behind: the larger of Seconds_Behind_Master
 * (when above 0: while the IO thread is behind it says 0) and the backlog at the apply rate; null
 * when neither tells (nothing applied during the sample, Seconds_Behind_Master NULL or 0). The
 * source unknown: Seconds_Behind_Master alone.
 */
export function lagSeconds(input: LagInput & {secondsBehind: number | null}): number | null {
  if (input.behind === false) return 0
  if (input.behind === null) return input.secondsBehind
  const backlog = backlogSeconds(input, 'replica')
  const known = [input.secondsBehind !== null && input.secondsBehind > 0 ? input.secondsBehind : undefined, backlog].filter(
    (v): v is number => v !== undefined,
  )
  return known.length > 0 ? Math.max(...known) : null
}

/**
 * Seconds until caught up: the backlog over the rate at which it shrinks (the replica's apply rate
 * minus the source's write rate). Null when the replica applies no faster than the source writes,
 * or without two samples.
 */
export function eta(input: LagInput): number | null {
  if (input.behind === false) return 0
  if (input.behind === null) return null
  return backlogSeconds(input, 'closing') ?? null
}

function backlogSeconds(input: LagInput, rate: 'replica' | 'closing'): number | undefined {
  const r = input.applyRate
  if (!r) return undefined
  const closing = (applied: number | null, written: number | null) => (rate === 'replica' ? applied : applied !== null && written !== null ? applied - written : null)
  if (input.mode === 'gtid' && input.transactions !== null && input.transactions > 0) {
    const speed = closing(r.transactionsPerSecond, r.sourceTransactionsPerSecond)
    if (speed !== null && speed > 0) return input.transactions / speed
  }
  if (input.bytes !== null && input.bytes > 0) {
    const speed = closing(r.bytesPerSecond, r.sourceBytesPerSecond)
    if (speed !== null && speed > 0) return input.bytes / speed
  }
  return undefined
}

/** The report of a replica that is not replicating (unreachable, or linked to no source): no thread, no lag. */
function unlinkedReport(
  known: Pick<ReplicationReport, 'reachable' | 'error' | 'mode' | 'source' | 'replica'>,
): ReplicationReport {
  return {
    ...known,
    linked: false,
    io: null,
    ioState: null,
    sql: null,
    sqlState: null,
    secondsBehind: null,
    caughtUp: null,
    lag: {transactions: null, bytes: null, files: null, seconds: null},
    errors: {io: null, sql: null},
    hint: null,
  }
}
