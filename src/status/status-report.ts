import type {ExitCode} from '../lib/errors.js'
import type {SnapshotProgress} from '../state/progress.js'
import type {IoThreadState, ReplicationMode} from '../replication/slave-status.js'
import type {StepId} from '../steps/step.js'

/**
 * What `datain status` reports, and prints as is under `--json`. Every field is always present
 * (null when unknown), so that a script can read it without guarding each key; the README
 * documents it ("datain status --json"). Never a secret: no password is read into it.
 */
export interface StatusReport {
  profile: string
  /** The overall state; {@link STATE_EXIT_CODES} gives its exit code. */
  state: OverallState
  exitCode: ExitCode
  /** One paragraph for people: what is wrong (or not) and why. */
  summary: string
  /** The command to run next, or null when there is nothing to do. */
  next: string | null
  /** `--max-lag`, in seconds: beyond it, a replica that is behind counts as lagging (exit 5). */
  maxLag: number
  steps: StepStatus[]
  /** Null before the setup started: nothing was read from the servers. */
  replication: ReplicationReport | null
  /** Null until two samples were taken (the first frame of --watch), or when the replica did not answer. */
  applyRate: ApplyRate | null
  /** Estimated seconds until the replica has caught up: 0 when it has, null when it cannot be told or is not catching up. */
  eta: number | null
  checkedAt: string
}

/**
 * - `not-started`: the profile is recorded, no step ran (exit 1)
 * - `setup-in-progress`: a `datain start` is running a step now (exit 1)
 * - `setup-incomplete`: a step failed, was interrupted or has not run (exit 1)
 * - `replica-unreachable`: the replica did not answer, or refused the login (exit 4)
 * - `broken`: a replica thread stopped, or keeps failing, with an error (exit 3)
 * - `stopped`: both replica threads are off, with no error (exit 3)
 * - `unlinked`: the replica has no source, or another one than the profile's (exit 3)
 * - `lagging`: replicating, but further behind than --max-lag (exit 5)
 * - `healthy`: replicating within --max-lag (exit 0)
 * - `removed`: `datain stop --remove` or `--cutover` ended replication on purpose; the replica stands alone (exit 0)
 */
export type OverallState =
  | 'not-started'
  | 'setup-in-progress'
  | 'setup-incomplete'
  | 'replica-unreachable'
  | 'broken'
  | 'stopped'
  | 'unlinked'
  | 'lagging'
  | 'healthy'
  | 'removed'

export const STATE_EXIT_CODES: Readonly<Record<OverallState, ExitCode>> = {
  'not-started': 1,
  'setup-in-progress': 1,
  'setup-incomplete': 1,
  'replica-unreachable': 4,
  broken: 3,
  stopped: 3,
  unlinked: 3,
  lagging: 5,
  healthy: 0,
  removed: 0,
}

/** A step's state as status shows it: `running` only while a live datain runs it; left running by a dead one, `interrupted`. */
export type StepDisplayState = 'not-started' | 'running' | 'done' | 'failed' | 'interrupted'

export interface StepStatus {
  id: StepId
  title: string
  state: StepDisplayState
  startedAt: string | null
  finishedAt: string | null
  /** How long it took, or has been running so far; null before it started. */
  seconds: number | null
  /** Its key outputs in a line (the snapshot's position, the rules created, the link mode…). */
  summary: string | null
  /** The same key outputs as values; `{}` when the step recorded none. */
  details: Record<string, unknown>
  error: {code: string; message: string} | null
  /**
   * The snapshot's copy while it runs (or as far as it got, when the run died: `updatedAt` says
   * when); null for the other steps, and once the copy is done (its `details` then hold the
   * per-table summary, `tableSummary`).
   */
  progress: SnapshotProgress | null
}

export interface ServerError {
  code: string
  message: string
}

export interface ThreadErrorReport {
  errno: number
  message: string
}

/** Live from the replica (SHOW SLAVE STATUS, @@gtid_slave_pos) and the source (SHOW MASTER STATUS, @@gtid_binlog_pos). */
export interface ReplicationReport {
  /** The replica answered. When false, `error` says why and every live field is null. */
  reachable: boolean
  error: ServerError | null
  /** SHOW SLAVE STATUS has a row: the replica has a replication source. */
  linked: boolean
  mode: ReplicationMode
  io: IoThreadState | null
  /** `Slave_IO_State`. */
  ioState: string | null
  sql: 'running' | 'stopped' | null
  /** `Slave_SQL_Running_State`. */
  sqlState: string | null
  /** `Seconds_Behind_Master` as the replica reports it: NULL while a thread is off, 0 while the IO thread is behind. */
  secondsBehind: number | null
  /** Both threads run and the replica has executed everything the source has written; null when the source could not be read. */
  caughtUp: boolean | null
  lag: LagReport
  source: SourceReport
  replica: ReplicaReport
  /** The last error of each thread (`Last_IO_Errno`/`Last_SQL_Errno`), null when none. */
  errors: {io: ThreadErrorReport | null; sql: ThreadErrorReport | null}
  /** What to do about the error that stops (or keeps failing) replication. */
  hint: {text: string; commands: string[]} | null
}

/** From the positions, not from Seconds_Behind_Master. Null when it cannot be told (the source unreachable…). */
export interface LagReport {
  /** GTID mode: transactions the source wrote that the replica has not executed, summed over GTID domains. */
  transactions: number | null
  /** Bytes of the source's binlog not yet executed, when both positions are in one file. */
  bytes: number | null
  /** Binlog files between them, when they are in different files. */
  files: number | null
  /** How far behind in time: the larger of Seconds_Behind_Master and the backlog at the apply rate. */
  seconds: number | null
}

export interface SourceReport {
  host: string
  port: number
  /** datain could read the source's position. False is not fatal: the replica's side is still shown. */
  reachable: boolean
  error: ServerError | null
  /** `@@gtid_binlog_pos`. */
  gtid: string | null
  /** `SHOW MASTER STATUS`. */
  file: string | null
  position: number | null
}

export interface ReplicaReport {
  host: string
  port: number
  /** `@@gtid_slave_pos`: the last GTID the replica executed, per domain. */
  gtidExecuted: string | null
  /** `Relay_Master_Log_File`:`Exec_Master_Log_Pos`: the source coordinates the replica executed up to. */
  file: string | null
  position: number | null
  /** `Master_Log_File`:`Read_Master_Log_Pos`: how far the IO thread has read. */
  readFile: string | null
  readPosition: number | null
  /** `Master_Host`:`Master_Port`, as the replica is linked. */
  linkedTo: string | null
}

/** Measured between two samples: one second apart in a one-shot status, between refreshes with --watch. */
export interface ApplyRate {
  /** GTID mode: transactions executed per second. */
  transactionsPerSecond: number | null
  /** Source binlog bytes executed per second (null when the replica moved to another binlog file meanwhile). */
  bytesPerSecond: number | null
  /** The same, written by the source: the replica catches up only when it applies faster. */
  sourceTransactionsPerSecond: number | null
  sourceBytesPerSecond: number | null
  sampleSeconds: number
}
