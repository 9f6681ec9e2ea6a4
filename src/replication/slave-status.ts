import type {Connection} from 'mariadb'
import {formatBytes} from '../lib/format.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {type BinlogCoordinate, coordinateGap, type DomainGap, gtidGaps} from './position.js'

/** The replica's IO thread: `Slave_IO_Running` Yes, Connecting (retrying; see Last_IO_Error) or No. */
export type IoThreadState = 'running' | 'connecting' | 'stopped'

/** How the replica positions itself on the source: by GTID, or by binlog file and position (`--no-gtid`). */
import type {ReplicationMode} from '../state/schema.js'

export type {ReplicationMode}

/** `SHOW SLAVE STATUS`, typed: what datain reads to tell how replication is doing. */
export interface ReplicaStatus {
  ioThread: IoThreadState
  sqlRunning: boolean
  /** `Slave_IO_State`, e.g. "Waiting for master to send event". */
  ioState: string
  /** `Slave_SQL_Running_State`, e.g. "Slave has read all relay log; waiting for more updates". */
  sqlState: string
  /** NULL while a thread is stopped or the IO thread is not connected; 0 does not mean caught up. */
  secondsBehindMaster: number | null
  lastIoErrno: number
  lastIoError: string
  lastSqlErrno: number
  lastSqlError: string
  /** `No`, `Slave_Pos` or `Current_Pos`. */
  usingGtid: string
  gtidIoPos: string
  /** Where the IO thread has read the source's binlog up to. */
  masterLogFile: string
  readMasterLogPos: number
  /** Where the SQL thread has applied it up to. */
  relayMasterLogFile: string
  execMasterLogPos: number
  /** `Relay_Log_File`: the replica's own relay log; '' once RESET SLAVE has deleted them. */
  relayLogFile: string
  masterHost: string
  masterPort: number
  masterUser: string
  masterSslAllowed: boolean
  masterServerId: number | null
  /** `Connect_Retry`: seconds the IO thread waits between two tries to connect (MariaDB's default 60). */
  connectRetry: number | null
}

/** The errors of a try to connect to a server that is down or shutting down: refused, lost, gone, shutdown in progress. */
export const SERVER_DOWN_ERRORS: ReadonlySet<number> = new Set([1053, 2002, 2003, 2006, 2013])

/** MariaDB's default `MASTER_CONNECT_RETRY`, for a replica that does not show `Connect_Retry`. */
export const DEFAULT_CONNECT_RETRY = 60

/** Time for the source to start and the replica's retry to connect, beyond `Connect_Retry`. */
export const RESTART_MARGIN_SECONDS = 10

/** The source's current end of binlog: where a replica that has everything stands. */
export interface SourcePosition extends BinlogCoordinate {
  /** `@@gtid_binlog_pos`: the last GTID of each domain in the source's binlog. */
  gtid: string
}

/** How far the replica is from a source position, and whether that counts as caught up. */
export interface ReplicationLag {
  mode: ReplicationMode
  threadsRunning: boolean
  /** Both threads run and the SQL thread has applied everything up to the target position. */
  caughtUp: boolean
  /** GTID mode: the domains still behind, and the sum of their missing transactions. */
  gaps?: DomainGap[]
  transactions?: number
  /** File mode: bytes still to apply when in the same binlog file, else the number of files in between. */
  bytes?: number
  files?: number
  /** `Seconds_Behind_Master`, as the replica reports it (null when it cannot tell). */
  seconds: number | null
}

/** Whether the replica is linked to this source: host (without regard to case), port and user. */
export function linkedTo(status: ReplicaStatus, source: {host: string; port: number; user: string}): boolean {
  return status.masterHost.toLowerCase() === source.host.toLowerCase() && status.masterPort === source.port && status.masterUser === source.user
}

/** The typed status of one `SHOW SLAVE STATUS` row. */
export function parseReplicaStatus(row: Record<string, unknown>): ReplicaStatus {
  const text = (name: string) => (row[name] === null || row[name] === undefined ? '' : String(row[name]))
  const int = (name: string) => (row[name] === null || row[name] === undefined || row[name] === '' ? null : Number(row[name]))
  const io = text('Slave_IO_Running')
  return {
    ioThread: io === 'Yes' ? 'running' : io === 'Connecting' ? 'connecting' : 'stopped',
    sqlRunning: text('Slave_SQL_Running') === 'Yes',
    ioState: text('Slave_IO_State'),
    sqlState: text('Slave_SQL_Running_State'),
    secondsBehindMaster: int('Seconds_Behind_Master'),
    lastIoErrno: int('Last_IO_Errno') ?? 0,
    lastIoError: text('Last_IO_Error'),
    lastSqlErrno: int('Last_SQL_Errno') ?? 0,
    lastSqlError: text('Last_SQL_Error'),
    usingGtid: text('Using_Gtid') || 'No',
    gtidIoPos: text('Gtid_IO_Pos'),
    masterLogFile: text('Master_Log_File'),
    readMasterLogPos: int('Read_Master_Log_Pos') ?? 0,
    relayMasterLogFile: text('Relay_Master_Log_File'),
    execMasterLogPos: int('Exec_Master_Log_Pos') ?? 0,
    relayLogFile: text('Relay_Log_File'),
    masterHost: text('Master_Host'),
    masterPort: int('Master_Port') ?? 0,
    masterUser: text('Master_User'),
    masterSslAllowed: text('Master_SSL_Allowed') === 'Yes',
    masterServerId: int('Master_Server_Id'),
    connectRetry: int('Connect_Retry'),
  }
}

/**
 * Whether a `SHOW SLAVE STATUS` row is what a removed link leaves. Azure documents
 * `az_replication_remove_master` only as "removes the relationship": it may run RESET SLAVE ALL
 * (no row) or RESET SLAVE, whose row on MariaDB 10.11 keeps the source's host, user, port and
 * Using_Gtid (a row with an empty host cannot exist: MASTER_HOST = '' is error 1210), so the host
 * cannot tell. What RESET SLAVE leaves and no link can show: both threads stopped, the positions
 * reset (Master_Log_File and Relay_Master_Log_File '', Exec_Master_Log_Pos 0, Gtid_IO_Pos '') and
 * no relay log (Relay_Log_File ''). The last one sets it apart from a link made by CHANGE MASTER and
 * not yet started, which in GTID mode shows the same positions but has opened a relay log
 * (…-relay-bin.000001); treating that one as removed would leave a configured link behind.
 */
export function isRemovedLink(status: ReplicaStatus): boolean {
  return (
    status.ioThread === 'stopped' &&
    !status.sqlRunning &&
    status.masterLogFile === '' &&
    status.relayMasterLogFile === '' &&
    status.execMasterLogPos === 0 &&
    status.gtidIoPos === '' &&
    status.relayLogFile === ''
  )
}

/**
 * The replica's `SHOW SLAVE STATUS` (the admin holds SLAVE MONITOR, REPLICATION CLIENT before
 * 10.5); undefined when the replica has no link: no row, or the row a removed link leaves
 * ({@link isRemovedLink}). Every question "is the replica linked?" goes through here, so that both
 * ways Azure may remove a link read the same.
 */
export async function readReplicaStatus(replica: Connection): Promise<ReplicaStatus | undefined> {
  const rows = (await replica.query('SHOW SLAVE STATUS')) as Array<Record<string, unknown>>
  const status = rows[0] ? parseReplicaStatus(rows[0]) : undefined
  return status && !isRemovedLink(status) ? status : undefined
}

/** `@@global.gtid_slave_pos`: the last GTID the replica's SQL thread applied, per domain. */
export async function readGtidSlavePos(replica: Connection): Promise<string> {
  const [row] = (await replica.query('SELECT @@global.gtid_slave_pos AS pos')) as Array<{pos: string | null}>
  return row?.pos ?? ''
}

/** The source's end of binlog now: `SHOW MASTER STATUS` and `@@gtid_binlog_pos`. */
export async function readSourcePosition(source: Connection): Promise<SourcePosition> {
  const rows = (await source.query('SHOW MASTER STATUS')) as Array<{File: string; Position: number | bigint}>
  const [gtidRow] = (await source.query('SELECT @@global.gtid_binlog_pos AS pos')) as Array<{pos: string | null}>
  const master = rows[0]
  if (!master) {
    throw new DatainError(
      "The source writes no binary log (SHOW MASTER STATUS is empty), so the replica has nothing to read. Turn binary logging on in the source's my.cnf (log_bin) and restart it.",
      {code: 'E_BINLOG', exit: ExitCode.failed},
    )
  }
  return {file: master.File, position: Number(master.Position), gtid: gtidRow?.pos ?? ''}
}

/**
 * How far the replica is from `target` (a source position read earlier). Caught up means both
 * threads run and the SQL thread has applied the target: in GTID mode `@@gtid_slave_pos` includes
 * `target.gtid` in every domain; in file mode `Relay_Master_Log_File:Exec_Master_Log_Pos` has
 * reached `target.file:target.position`. `Seconds_Behind_Master` is reported, never trusted: it is
 * NULL or 0 while the IO thread has not yet read what the source wrote.
 */
export function replicationLag(status: ReplicaStatus, gtidSlavePos: string, target: SourcePosition, mode: ReplicationMode): ReplicationLag {
  const threadsRunning = status.ioThread === 'running' && status.sqlRunning
  const seconds = status.secondsBehindMaster
  if (mode === 'gtid') {
    const gaps = gtidGaps(gtidSlavePos, target.gtid)
    const transactions = gaps.reduce((sum, g) => sum + Number(g.missing), 0)
    return {mode, threadsRunning, caughtUp: threadsRunning && gaps.length === 0, gaps, transactions, seconds}
  }
  const gap = coordinateGap({file: status.relayMasterLogFile, position: status.execMasterLogPos}, target)
  return {mode, threadsRunning, caughtUp: threadsRunning && !gap.behind, bytes: gap.bytes ?? (gap.behind ? undefined : 0), files: gap.files, seconds}
}

/** One line for people: "caught up", or how far behind in transactions/bytes and seconds. */
export function describeLag(lag: ReplicationLag): string {
  const seconds = lag.seconds === null ? 'Seconds_Behind_Master unknown' : `Seconds_Behind_Master ${lag.seconds} s`
  if (lag.caughtUp) return `caught up (${seconds})`
  const parts: string[] = []
  if (lag.mode === 'gtid') {
    const domains = lag.gaps?.length ?? 0
    parts.push(`${lag.transactions ?? 0} transaction${lag.transactions === 1 ? '' : 's'} behind` + (domains > 1 ? ` in ${domains} GTID domains` : ''))
  } else if (lag.bytes !== undefined) {
    parts.push(`${formatBytes(lag.bytes)} of binlog behind`)
  } else if (lag.files !== undefined) {
    parts.push(`${lag.files} binlog file${lag.files === 1 ? '' : 's'} behind`)
  } else {
    parts.push('behind')
  }
  parts.push(seconds)
  if (!lag.threadsRunning) parts.push('threads not both running')
  return parts.join(', ')
}

