import {pipeline} from 'node:stream/promises'
import {describeClientTool, type RunningClientTool, startClientTool} from '../lib/child-process.js'
import {interruptedError} from '../lib/client-tool-errors.js'
import {DatainError, ExitCode, isDatainError} from '../lib/errors.js'
import type {ServerAddress} from '../lib/mariadb.js'
import {formatBytes, formatDuration} from '../lib/format.js'
import {type DumpCoordinates, DumpTransform} from './dump-transform.js'
import type {CopyTally} from './progress.js'

/**
 * mariadb-dump's options, and why:
 * - `--single-transaction`: InnoDB tables are read in one REPEATABLE READ snapshot, without locking
 *   them (writes on the source go on); no `--lock-tables`.
 * - `--master-data=2 --gtid`: the binlog file/position and the GTID of exactly that snapshot, as
 *   comments (=1 would write a live CHANGE MASTER / SET GLOBAL gtid_slave_pos, error 1227 on Azure).
 *   MariaDB takes them from the snapshot itself (`binlog_snapshot_file/position`, then
 *   `BINLOG_GTID_POS()`), without FLUSH TABLES WITH READ LOCK.
 * - rows only (`--no-create-info --no-create-db --skip-routines --skip-events --skip-triggers`):
 *   databases, tables and sequences are created before through the connector, routines, triggers,
 *   events and views after, one checked statement at a time (see createSchema and
 *   objects/copy-objects.ts). A dump carries them as text whose statements the `mariadb` client
 *   splits by delimiters, which a body can fool. 10.11 writes no view and no sequence value then.
 * - `--hex-blob`: binary columns as 0x… literals, independent of character sets.
 * - `--quick`: rows streamed from the server one by one, never a whole table in mariadb-dump's memory.
 * - `--default-character-set=utf8mb4`, `--max-allowed-packet=1G`: any text, any row the server holds.
 * - `--comments`: the default, said explicitly against a `[mysqldump] compact` in a global my.cnf: the
 *   coordinates and the closing `-- Dump completed` are comments.
 * - `--databases`: each database with its USE, names quoted by the tool.
 */
export const DUMP_OPTIONS = [
  '--single-transaction',
  '--master-data=2',
  '--gtid',
  '--no-create-info',
  '--no-create-db',
  '--skip-routines',
  '--skip-events',
  '--skip-triggers',
  '--hex-blob',
  '--quick',
  '--default-character-set=utf8mb4',
  '--max-allowed-packet=1G',
  '--comments',
] as const

/**
 * The `mariadb` client's options for loading: `--binary-mode` keeps data bytes as they are (no
 * `\r\n` translation, NUL allowed) and client commands other than DELIMITER off; no `--force`, so
 * the first error stops the load; `--local-infile=0`, so that no statement it runs can read a file
 * of this machine (LOAD DATA LOCAL).
 */
export const LOAD_OPTIONS = ['--binary-mode', '--batch', '--default-character-set=utf8mb4', '--max-allowed-packet=1G', '--local-infile=0'] as const

export function dumpArgs(databases: string[]): string[] {
  // `--` ends the options: a database name starting with `-` stays a name.
  return [...DUMP_OPTIONS, '--databases', '--', ...databases]
}

export interface CopyProgress {
  bytes: number
  rows: number
  seconds: number
  /** The total the ETA counts toward (information_schema's estimate); 0 when unknown. */
  estimatedRows: number
  bytesPerSecond: number
  rowsPerSecond: number
  /** undefined when no estimate can be made yet. */
  etaSeconds?: number
  /** `db.table` whose rows are streaming by. */
  table?: string
  /** The copy is complete: this is the last report. */
  done?: boolean
}

export interface CopyOptions {
  source: ServerAddress
  replica: ServerAddress
  databases: string[]
  signal: AbortSignal
  estimatedRows?: number
  onProgress?: (progress: CopyProgress) => void
  progressIntervalMs?: number
  /** Told of each table as mariadb-dump moves on, for `datain status` and the per-table summary. */
  tally?: CopyTally
  hooks?: StreamCopyHooks
}

/** Where a test steps into the copy. */
export interface StreamCopyHooks {
  /** Called once both tools run, with their pids (tests look at them). */
  onStart?: (pids: {dump: number; load: number}) => void
}

export interface CopyResult {
  coordinates: Required<Pick<DumpCoordinates, 'binlogFile' | 'binlogPosition'>> & Pick<DumpCoordinates, 'gtidPosition'>
  bytes: number
  rows: number
  seconds: number
}

/** The two command lines of the copy, for `--dry-run` (password masked, through the options file). */
export function describeCopy(options: Pick<CopyOptions, 'source' | 'replica' | 'databases'>): {dump: string; load: string} {
  return {
    dump: describeClientTool({tool: 'mariadb-dump', address: options.source, args: dumpArgs(options.databases)}),
    load: describeClientTool({tool: 'mariadb', address: options.replica, args: [...LOAD_OPTIONS]}),
  }
}

/**
 * Streams `mariadb-dump` of the source through {@link DumpTransform} into `mariadb` connected to the
 * replica: no file on disk, memory bounded by the pipes. The loader's input is ended only when the
 * dump has exited cleanly and its coordinates were read, so that a failed dump never reaches the
 * replica as if it were complete; on any failure or abort both children are ended before this
 * returns. Failures are DatainErrors with the failing tool's last words; an abort is E_INTERRUPTED.
 */
export async function streamCopy(options: CopyOptions): Promise<CopyResult> {
  const started = Date.now()
  const transform = new DumpTransform()
  transform.loadSqlMode = true
  const {load, dump} = await startTools(options, transform)
  options.hooks?.onStart?.({dump: dump.pid, load: load.pid})

  const estimatedRows = options.estimatedRows ?? 0
  const {tally} = options
  if (tally) transform.on('table', (table: string) => tally.streamAt(table, transform.rows, transform.bytes))
  const report = (done = false) => {
    tally?.streamAt(transform.table, transform.rows, transform.bytes)
    options.onProgress?.({...progressOf(transform, started, estimatedRows), done})
  }
  const timer = options.onProgress ? setInterval(() => report(), options.progressIntervalMs ?? 1000) : undefined

  // Who failed on their own, as opposed to being stopped because the other did.
  const failures: {dump?: unknown; load?: unknown; pipe?: unknown; other?: unknown} = {}
  const failed = () => Object.keys(failures).length > 0
  const dumpDone = dump.done.catch((error: unknown) => {
    failures.dump = error
    // The loader must not read on: what it has is a dump cut short.
    void load.stop()
  })
  const loadDone = load.done.catch((error: unknown) => {
    failures.load = error
    void dump.stop()
  })
  // EPIPE when the loader stopped reading (its own error is the one to report).
  load.stdin!.on('error', () => {})
  const piped = pipeline(dump.stdout!, transform, load.stdin!, {end: false}).catch((error: unknown) => {
    failures.pipe = error
    void dump.stop()
    if ((error as NodeJS.ErrnoException)?.code !== 'EPIPE') void load.stop()
  })

  try {
    await Promise.all([dumpDone, piped])
    if (!failed()) {
      const {binlogFile, binlogPosition, gtidPosition} = transform.coordinates
      const incomplete = incompleteDump(transform)
      if (incomplete !== undefined || binlogFile === undefined || binlogPosition === undefined) {
        failures.other = incomplete
        void load.stop()
      } else {
        load.stdin!.end()
        await loadDone
        if (!failed()) {
          report(true)
          return {
            coordinates: {binlogFile, binlogPosition, gtidPosition},
            bytes: transform.bytes,
            rows: transform.rows,
            seconds: (Date.now() - started) / 1000,
          }
        }
      }
    }
    await Promise.allSettled([dumpDone, loadDone])
    throw copyError(failures, options.signal)
  } finally {
    if (timer) clearInterval(timer)
    // Nothing is left running whatever happened above.
    await Promise.allSettled([dump.stop(), load.stop()])
  }
}

/**
 * Starts the loader, then the dump (the loader first: when the replica cannot be reached, nothing
 * is read from the source); a dump that cannot start stops the loader.
 */
async function startTools(options: CopyOptions, transform: DumpTransform): Promise<{load: RunningClientTool; dump: RunningClientTool}> {
  const stall = {on: () => (transform.table ? `the table ${transform.table}` : undefined), code: 'E_SNAPSHOT_STALLED'}
  const load = await startClientTool({
    tool: 'mariadb',
    role: 'replica',
    address: options.replica,
    args: [...LOAD_OPTIONS],
    purpose: 'load the copy into the replica',
    signal: options.signal,
    stdin: 'pipe',
    errorCode: 'E_SNAPSHOT_LOAD',
    stall,
  })
  try {
    const dump = await startClientTool({
      tool: 'mariadb-dump',
      role: 'source',
      address: options.source,
      args: dumpArgs(options.databases),
      purpose: 'dump the selected databases of the source',
      signal: options.signal,
      stdout: 'pipe',
      errorCode: 'E_SNAPSHOT_DUMP',
      stall,
    })
    return {load, dump}
  } catch (error) {
    await load.stop()
    throw error
  }
}

/** Why a dump that exited cleanly cannot be used (cut short, or without its coordinates), or undefined. */
function incompleteDump(transform: DumpTransform): DatainError | undefined {
  if (!transform.completed) {
    return new DatainError(
      'mariadb-dump exited without error but its output ended before its closing `-- Dump completed` line: the copy is incomplete and was not used. Run datain start again.',
      {code: 'E_SNAPSHOT_TRUNCATED', exit: ExitCode.failed},
    )
  }
  const {binlogFile, binlogPosition} = transform.coordinates
  if (binlogFile === undefined || binlogPosition === undefined) {
    return new DatainError(
      'mariadb-dump finished without writing the binary log coordinates of its snapshot (the `-- CHANGE MASTER TO` comment of --master-data), ' +
        'so replication could not start where the copy ends. Check that binary logging is on on the source and that the source user has the ' +
        'BINLOG MONITOR (or REPLICATION CLIENT) and RELOAD privileges.',
      {code: 'E_SNAPSHOT_COORDINATES', exit: ExitCode.failed},
    )
  }
  return undefined
}

function copyError(failures: {dump?: unknown; load?: unknown; pipe?: unknown; other?: unknown}, signal: AbortSignal): unknown {
  if (signal.aborted) return interruptedError()
  const own = (error: unknown) => error !== undefined && !(isDatainError(error) && error.code === 'E_CLIENT_STOPPED')
  // The loader's error first: when it fails, the dump only sees a closed pipe.
  for (const error of [failures.load, failures.dump, failures.other]) if (own(error)) return error
  const pipe = failures.pipe
  if (isDatainError(pipe)) return pipe
  if (pipe !== undefined) {
    return new DatainError(`The copy stream from the source to the replica broke: ${(pipe as Error)?.message ?? pipe}.`, {
      code: 'E_SNAPSHOT_STREAM',
      exit: ExitCode.failed,
      cause: pipe,
    })
  }
  return failures.load ?? failures.dump ?? failures.other
}

function progressOf(transform: DumpTransform, started: number, estimatedRows: number): CopyProgress {
  const seconds = Math.max(0.001, (Date.now() - started) / 1000)
  const rowsPerSecond = transform.rows / seconds
  const remaining = Math.max(0, estimatedRows - transform.rows)
  return {
    bytes: transform.bytes,
    rows: transform.rows,
    seconds,
    estimatedRows,
    bytesPerSecond: transform.bytes / seconds,
    rowsPerSecond,
    etaSeconds: estimatedRows > 0 && rowsPerSecond > 0 ? remaining / rowsPerSecond : undefined,
    table: transform.table,
  }
}

/** One status line: `12.3 MB, 45,000 of ~60,000 rows (75%), 5.2 MB/s, 11,000 rows/s, ETA 2 min, shop.orders`. */
export function formatProgress(p: CopyProgress): string {
  const parts = [formatBytes(p.bytes)]
  const rows = p.rows.toLocaleString('en-US')
  if (p.estimatedRows > 0) {
    // The estimate is InnoDB's guess: never claim 100% before the end.
    const percent = p.done ? 100 : Math.min(99, Math.floor((p.rows / p.estimatedRows) * 100))
    parts.push(`${rows} of ~${p.estimatedRows.toLocaleString('en-US')} rows (${percent}%)`)
  } else {
    parts.push(`${rows} rows`)
  }
  parts.push(`${formatBytes(p.bytesPerSecond)}/s`, `${Math.round(p.rowsPerSecond).toLocaleString('en-US')} rows/s`)
  if (p.done) return parts.join(', ')
  if (p.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(p.etaSeconds)}`)
  if (p.table) parts.push(p.table)
  return parts.join(', ')
}
