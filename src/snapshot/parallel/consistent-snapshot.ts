import {performance} from 'node:perf_hooks'
import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../../lib/errors.js'
import {parseVersion, serverVersion, versionAtLeast} from '../../lib/sql.js'

/** Where the snapshot stands in the source's binary log, and what it cost the source's writers. */
export interface SnapshotPoint {
  binlogFile: string
  binlogPosition: number
  /** `BINLOG_GTID_POS(binlogFile, binlogPosition)`; empty on a server that never wrote a GTID. */
  gtidPosition: string
  /**
   * How commits were held while the transactions opened: `backup-stage` (BACKUP STAGE
   * BLOCK_COMMIT, MariaDB 10.4.1+: only commits and DDL wait) or `flush-tables` (FLUSH TABLES
   * WITH READ LOCK: every write waits).
   */
  method: 'backup-stage' | 'flush-tables'
  /** How long commits or writes on the source waited for datain. */
  writesHeldMs: number
}

export interface SnapshotOptions {
  /** Seconds the lock may wait for running statements or DDL before datain gives up. Default 30. */
  lockWaitSeconds?: number
  /**
   * Milliseconds commits may stay held while the workers open their snapshots (normally a few):
   * past it the hold is released and the attempt fails with E_SNAPSHOT_HOLD. Default 5000.
   */
  holdLimitMs?: number
}

const DEFAULT_HOLD_LIMIT_MS = 5000

/**
 * Opens one REPEATABLE READ snapshot on each of `workers` such that all of them see the same
 * data, which is the source's state at exactly one binary log position, and returns that position.
 *
 * Commits are held on `coordinator` for as long as it takes to open them (milliseconds), the way
 * mydumper and MySQL Shell hold FLUSH TABLES WITH READ LOCK, but with MariaDB's lighter BACKUP
 * STAGE BLOCK_COMMIT where the server has it. MariaDB takes `START TRANSACTION WITH CONSISTENT
 * SNAPSHOT` under its commit-order lock and reports the binlog position of that very snapshot
 * (`binlog_snapshot_file/position`), which is what mariadb-dump --single-transaction
 * --master-data relies on; every worker must report the same one.
 *
 * Opening them together without a lock and keeping them when their positions agreed was tried:
 * under a write load one such copy replayed a row it already had (1062), so it is not done.
 *
 * The workers must be fresh connections with no transaction open.
 */
export async function openConsistentSnapshot(coordinator: Connection, workers: Connection[], options: SnapshotOptions = {}): Promise<SnapshotPoint> {
  if (workers.length === 0) throw new Error('openConsistentSnapshot: no connection')
  for (const worker of workers) await worker.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')
  const version = parseVersion(await serverVersion(coordinator))
  const backupStage = version !== undefined && versionAtLeast(version, 10, 4, 1) && !/mysql/i.test(await serverVersion(coordinator))
  await coordinator.query(`SET SESSION lock_wait_timeout = ${Math.max(1, Math.round(options.lockWaitSeconds ?? 30))}`)
  let held = 0
  let positions: Position[]
  const limit = options.holdLimitMs ?? DEFAULT_HOLD_LIMIT_MS
  if (backupStage) {
    // START then BLOCK_COMMIT: running transactions go on, only their commits wait; DDL waits
    // too (BLOCK_DDL is implied). BACKUP STAGE END lifts it, also when the session ends.
    await coordinator.query('BACKUP STAGE START')
    try {
      await coordinator.query('BACKUP STAGE BLOCK_COMMIT')
      const from = performance.now()
      try {
        positions = await startWithin(workers, limit)
      } finally {
        await coordinator.query('BACKUP STAGE END')
        held = performance.now() - from
      }
    } catch (error) {
      await coordinator.query('BACKUP STAGE END').catch(() => {})
      throw lockError(error, workers)
    }
  } else {
    try {
      await coordinator.query('FLUSH TABLES WITH READ LOCK')
    } catch (error) {
      throw lockError(error, workers)
    }
    const from = performance.now()
    try {
      positions = await startWithin(workers, limit)
    } catch (error) {
      await coordinator.query('UNLOCK TABLES').catch(() => {})
      throw lockError(error, workers)
    } finally {
      await coordinator.query('UNLOCK TABLES')
      held = performance.now() - from
    }
  }
  if (!positions.every((p) => samePosition(p, positions[0]!))) {
    throw new DatainError(
      `The source's binary log moved while datain held its commits (${positions.map((p) => `${p.file}:${p.position}`).join(', ')}), so the copy's ` +
        'transactions would not see the same data. Something wrote to the binary log without committing through the server (a replica thread of the source?). Run datain start again.',
      {code: 'E_SNAPSHOT_INCONSISTENT', exit: ExitCode.failed},
    )
  }
  return {
    ...(await withGtid(coordinator, positions[0]!)),
    method: backupStage ? 'backup-stage' : 'flush-tables',
    writesHeldMs: Math.round(held * 10) / 10,
  }
}

interface Position {
  file: string
  position: number
}

async function startAll(workers: Connection[]): Promise<Position[]> {
  // Sent together: the shorter the time commits wait.
  await Promise.all(workers.map((w) => w.query('START TRANSACTION WITH CONSISTENT SNAPSHOT')))
  return Promise.all(workers.map((w) => snapshotPosition(w)))
}

/** The workers' snapshots did not open within the hold's limit. */
class HoldLimitReached extends Error {
  constructor(readonly limitMs: number) {
    super(`the snapshots did not open within ${limitMs} ms`)
  }
}

/**
 * startAll, given `limitMs` at most: commits on the source wait meanwhile, so a worker whose
 * START TRANSACTION hangs (its session's own open transaction waits for the very commit lock,
 * a network that holds its answer) must not hold every writer of the source with it.
 */
async function startWithin(workers: Connection[], limitMs: number): Promise<Position[]> {
  const started = startAll(workers)
  started.catch(() => {})
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HoldLimitReached(limitMs)), limitMs)
  })
  try {
    return await Promise.race([started, limit])
  } finally {
    clearTimeout(timer)
  }
}

async function snapshotPosition(conn: Connection): Promise<Position> {
  const rows = (await conn.query("SHOW SESSION STATUS WHERE Variable_name IN ('binlog_snapshot_file', 'binlog_snapshot_position')")) as Array<{
    Variable_name: string
    Value: string
  }>
  const value = (name: string) => rows.find((r) => r.Variable_name.toLowerCase() === name)?.Value ?? ''
  const file = value('binlog_snapshot_file')
  const position = Number(value('binlog_snapshot_position'))
  if (!file || !Number.isSafeInteger(position) || position <= 0) {
    throw new DatainError(
      'The source reports no binary log position for its snapshot (binlog_snapshot_file is empty): binary logging is off, so replication could not start where the copy ends. ' +
        "Turn it on (the binlog step says how) and run 'datain start' again.",
      {code: 'E_SNAPSHOT_COORDINATES', exit: ExitCode.failed},
    )
  }
  return {file, position}
}

function samePosition(a: Position, b: Position): boolean {
  return a.file === b.file && a.position === b.position
}

async function withGtid(coordinator: Connection, at: Position): Promise<Pick<SnapshotPoint, 'binlogFile' | 'binlogPosition' | 'gtidPosition'>> {
  const [row] = (await coordinator.query('SELECT BINLOG_GTID_POS(?, ?) AS gtid', [at.file, at.position])) as Array<{gtid: string | null}>
  return {binlogFile: at.file, binlogPosition: at.position, gtidPosition: row?.gtid ?? ''}
}

function lockError(error: unknown, workers: Connection[]): DatainError {
  if (error instanceof HoldLimitReached) {
    // Their statements may still run: ended with their connections, whose snapshots are unusable now.
    for (const worker of workers) worker.destroy()
    return new DatainError(
      `The copy's ${workers.length} source connections could not open their snapshots within ${error.limitMs / 1000} s while datain held the source's commits, ` +
        "so datain let the commits go again and stopped. A connection that is slow to answer, or a busy source, does this: run 'datain start' again.",
      {code: 'E_SNAPSHOT_HOLD', exit: ExitCode.failed, cause: error},
    )
  }
  const errno = (error as {errno?: number})?.errno
  if (errno === 1205) {
    return new DatainError(
      'datain could not hold the source’s commits for the instant it needs to line up the copy’s transactions: a long statement or DDL kept the lock ' +
        "from being granted within its wait. Run 'datain start' again when the source is quieter.",
      {code: 'E_SNAPSHOT_LOCK', exit: ExitCode.failed, cause: error},
    )
  }
  if (errno === 1227 || errno === 1044 || errno === 1045) {
    return new DatainError(
      'The source user may not hold commits for an instant (BACKUP STAGE / FLUSH TABLES WITH READ LOCK need the RELOAD privilege), which the parallel copy ' +
        "needs to open its snapshots at one position. GRANT RELOAD ON *.* to it, or run 'datain start --parallel 1'.",
      {code: 'E_SNAPSHOT_LOCK', exit: ExitCode.failed, cause: error},
    )
  }
  return new DatainError(`datain could not hold the source’s commits to line up the copy: ${(error as Error)?.message ?? error}.`, {
    code: 'E_SNAPSHOT_LOCK',
    exit: ExitCode.failed,
    cause: error,
  })
}
