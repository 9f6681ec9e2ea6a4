import {availableParallelism} from 'node:os'
import type {Connection} from 'mariadb'
import type {ServerAddress} from '../../lib/mariadb.js'
import {installCopyWorkarounds} from '../../lib/runtime-workarounds.js'
import {createObjects, readObjects} from '../objects/copy-objects.js'
import {copyChunk, piecePool} from './chunk-copy.js'
import {openConsistentSnapshot, type SnapshotOptions, type SnapshotPoint} from './consistent-snapshot.js'
import {chunkName, copyError} from './copy-errors.js'
import {batchSize, type CopyRecord, DEFAULT_BATCH_BYTES, planWork, REPLICA_LOAD_SESSION, type WorkItem} from './copy-plan.js'
import {CopyRecorder, type RecorderOptions} from './copy-recorder.js'
import {waitForEarlierBuilds} from './earlier-builds.js'
import {KeyBuilds} from './key-builds.js'
import {checkFinished, emptyForReload} from './resume-check.js'
import {createDatabases, prepareDdlSessions} from './schema.js'
import {chunkSelect, listTables, loadStatement, type TableInfo} from './tables.js'
import {WorkerPool, WorkQueue} from './worker-pool.js'

export type {CopyRecord} from './copy-plan.js'

/** Where a test steps into the copy. */
export interface CopyHooks {
  /** Called once the snapshot is open, before any row is read (tests write to the source then). */
  onSnapshot?: (point: SnapshotPoint) => void | Promise<void>
}

export interface ParallelCopyOptions extends RecorderOptions {
  source: ServerAddress
  replica: ServerAddress
  databases: string[]
  /** Workers: each one source connection in the snapshot and one replica connection. */
  threads: number
  signal: AbortSignal
  /** Tables larger than this (InnoDB's estimate) are split by primary-key ranges. Default 256 MiB. */
  chunkBytes?: number
  /** Tables created on the replica together, whose rows then move while the next ones are created. Default 500. */
  schemaSlice?: number
  /** Bytes of one LOAD DATA statement at most (see copyChunk). Default 500 kB. */
  batchBytes?: number
  /** Tables at least this large (InnoDB's estimate) get their plain keys after the rows (see KeyBuilds). Default 16 MiB. */
  deferKeysBytes?: number
  snapshot?: SnapshotOptions
  /** What an earlier, unfinished copy into these databases recorded: its tables are checked, not copied again. */
  resume?: CopyRecord
  hooks?: CopyHooks
}

export interface ParallelCopyResult {
  point: SnapshotPoint
  rows: number
  /** Bytes of row data sent to the replica (LOAD DATA text). */
  bytes: number
  seconds: number
  tables: number
  chunks: number
  threads: number
  /** DEFINER clauses removed from the routines, triggers, events and views. */
  definers: number
  /** Events made DISABLE ON SLAVE. */
  eventsDisabledOnSlave: number
  /** On a resume: chunks an earlier run loaded that still matched the source (checksums), and their rows. */
  keptChunks: number
  keptRows: number
  /** On a resume: chunks loaded again (changed on the source since, or left half loaded). */
  reloadedChunks: number
  /** Tables whose plain secondary keys were built after their rows (see KeyBuilds). */
  keyedAfterRows: number
}

/** Connections left to others on either server when datain picks its number of threads. */
const SPARE_CONNECTIONS = 5
const MAX_DEFAULT_THREADS = 8

/**
 * How many workers a copy uses unless told: one per core of this machine (at least 2, at most 8),
 * and never more than either server has connections to spare (max_connections less those in use
 * and a few for others; Azure's Basic tier allows 50 in all).
 */
export async function defaultThreads(source: Connection, replica: Connection): Promise<{threads: number; why: string}> {
  const cores = availableParallelism()
  const wanted = Math.min(MAX_DEFAULT_THREADS, Math.max(2, cores))
  const spare = async (conn: Connection) => {
    const [row] = (await conn.query('SELECT @@max_connections AS max, (SELECT COUNT(*) FROM information_schema.PROCESSLIST) AS used')) as Array<{max: number; used: number}>
    return Math.max(1, Number(row?.max ?? 0) - Number(row?.used ?? 0) - SPARE_CONNECTIONS)
  }
  const [sourceSpare, replicaSpare] = await Promise.all([spare(source), spare(replica)])
  const threads = Math.max(1, Math.min(wanted, sourceSpare, replicaSpare))
  const limits = [`${cores} core${cores === 1 ? '' : 's'} here`]
  if (replicaSpare < wanted) limits.push(`${replicaSpare} spare connections on the replica`)
  if (sourceSpare < wanted) limits.push(`${sourceSpare} spare connections on the source`)
  return {threads, why: limits.join(', ')}
}

/**
 * Copies `databases` from the source into the replica with `threads` workers at once, as one
 * consistent snapshot: the workers' transactions are lined up on one binary log position (see
 * openConsistentSnapshot), whose coordinates the result carries. Tables (and ranges of large
 * tables) are shared out largest first (planWork); rows stream from the source into LOAD DATA
 * LOCAL on the replica with backpressure (copyChunk), so memory stays flat whatever the size. On a
 * resume, what an earlier run loaded is checked first (resume-check). The routines, triggers,
 * events and views are read at the snapshot and created after the rows (a trigger must not fire
 * for them) by the objects module, like the tables' DDL on a replica connection without LOAD DATA
 * LOCAL, one statement per query.
 *
 * The databases must not exist on the replica. Any failure or abort ends every connection (the
 * source's snapshot with them) and throws; what was loaded stays, for the caller to drop.
 */
export async function parallelCopy(options: ParallelCopyOptions): Promise<ParallelCopyResult> {
  const started = Date.now()
  const pool = new WorkerPool(Math.max(1, Math.floor(options.threads)), options.signal)
  const recorder = new CopyRecorder(options, pool.busy, started)
  try {
    // Before the first connection: every LOAD DATA LOCAL and destroy() of the copy's goes through them.
    await installCopyWorkarounds()
    const {sources, replicas, ddl, point} = await openSnapshot(pool, options)
    await options.hooks?.onSnapshot?.(point)

    const tables = await listTables(sources[0]!, options.databases)
    // Read now, at the snapshot, while its connections live; created after the rows.
    const objects = await readObjects(sources[0]!, options.databases)
    recorder.estimatedRows = tables.reduce((n, t) => n + t.estimatedRows, 0)
    const batchBytes = await batchSize(replicas[0]!, options.batchBytes ?? DEFAULT_BATCH_BYTES)
    const keys = new KeyBuilds({
      open: () => pool.open('replica', options.replica, false),
      sessions: pool.threads,
      deferNew: !options.resume,
      minBytes: options.deferKeysBytes,
      onFailure: (error) => pool.fail(error),
      busy: pool.busy,
    })
    const setup = {options, sources, replicas, ddl, tables, batchBytes, recorder, keys}
    const {work} = options.resume ? await resumeCopy(pool, setup) : await freshCopy(pool, setup)
    pool.throwIfFailed()
    // Every chunk is in: the last lines are kept (the record is not rewritten whole for a step about to be done).
    await recorder.end()
    // Every row is read: the source's snapshot can go.
    await Promise.all(sources.map((s) => s.end().catch(() => s.destroy())))
    await keys.finish()
    pool.throwIfFailed()

    const created = await createObjects(ddl, objects)
    pool.throwIfFailed()
    recorder.report(true)
    return {
      point,
      rows: recorder.rows,
      bytes: recorder.bytes,
      seconds: (Date.now() - started) / 1000,
      tables: tables.length,
      chunks: work.length,
      threads: pool.threads,
      definers: created.definers,
      eventsDisabledOnSlave: created.eventsDisabledOnSlave,
      keptChunks: recorder.keptChunks,
      keptRows: recorder.keptRows,
      reloadedChunks: recorder.reloadedChunks,
      keyedAfterRows: keys.built,
    }
  } catch (error) {
    // What finished is recorded for the resume; a write that fails now changes nothing of the error
    // (the lines already kept stay for the resume to read).
    await recorder.compact().catch(() => {})
    throw copyError(pool.failure ?? error, options.signal)
  } finally {
    recorder.stop()
    await pool.close()
  }
}

/**
 * Opens the workers' connections (the replica's first: when it cannot be reached, nothing is asked
 * of the source) and their snapshot, through a coordinator connection ended once it is open.
 */
async function openSnapshot(pool: WorkerPool, options: ParallelCopyOptions) {
  const replicas = await Promise.all(Array.from({length: pool.threads}, () => pool.open('replica', options.replica)))
  // What the source wrote (table DDL, object bodies) runs on a connection that cannot LOAD DATA LOCAL.
  const ddl = await pool.open('replica', options.replica, false)
  await Promise.all(replicas.map((r) => r.query(REPLICA_LOAD_SESSION)))
  // Before the source's snapshot opens: it must not stay open while an earlier run's build ends.
  if (options.resume) await waitForEarlierBuilds(ddl, options.databases, {signal: options.signal, busy: pool.busy})
  const coordinator = await pool.open('source', options.source)
  const sources = await Promise.all(Array.from({length: pool.threads}, () => pool.open('source', options.source)))
  // A worker whose rows wait for the replica must not be cut off by the source (net_write_timeout).
  await Promise.all(sources.map((s) => s.query("SET SESSION time_zone = '+00:00', net_write_timeout = 86400, max_statement_time = 0")))
  const point = await openConsistentSnapshot(coordinator, sources, options.snapshot)
  await coordinator.end()
  return {sources, replicas, ddl, point}
}

interface CopySetup {
  options: ParallelCopyOptions
  sources: Connection[]
  replicas: Connection[]
  /** The replica's connection without LOAD DATA LOCAL. */
  ddl: Connection
  tables: TableInfo[]
  batchBytes: number
  recorder: CopyRecorder
  keys: KeyBuilds
}

/**
 * A copy into new databases: the rows of each slice of tables start to move as soon as its tables
 * are created, while the next slice is created (with thousands of small tables, creating them
 * takes as long as their rows).
 */
async function freshCopy(pool: WorkerPool, s: CopySetup) {
  const queue = new WorkQueue()
  const loading = loadChunks(pool, s, queue)
  loading.catch(() => {})
  try {
    const planned = await createSchema(pool, s, async (items, record) => {
      pool.throwIfFailed()
      // The slice's tables are in the record before any of their chunks can be recorded done.
      await s.recorder.track(record)
      queue.push(items)
    })
    await s.recorder.track(planned.record)
    return planned
  } catch (error) {
    // The workers stop too.
    pool.fail(error)
    throw error
  } finally {
    queue.close()
    await loading.catch(() => {})
  }
}

/**
 * A copy that resumes an earlier one, in three phases, so that no DELETE runs beside a LOAD (see
 * resume-check): what it finished is checked, what differs is emptied, then the rows move.
 */
async function resumeCopy(pool: WorkerPool, s: CopySetup) {
  const planned = await createSchema(pool, s)
  await s.recorder.track(planned.record)
  const toLoad = await checkFinished(pool, s, planned.work, s.recorder)
  await emptyForReload(s.ddl, toLoad, s.recorder)
  toLoad.sort((a, b) => b.chunk.estimatedBytes - a.chunk.estimatedBytes)
  await loadChunks(pool, s, toLoad)
  return planned
}

/**
 * Sessions that read the tables' definitions on the source, and that create the tables on the
 * replica, at once: each CREATE TABLE makes and syncs files, which the replica does for several
 * sessions at once. 2,000 tables here, seconds of creation with 1, 2, 4, 8 sessions: 57.7, 32.3,
 * 21.1, 15.0 (on a loaded machine). 4 leaves connections to others (Azure's Basic tier has 50).
 */
const DDL_SESSIONS = 4

/**
 * Creates the databases and tables on the replica and plans the copy (planWork), through source
 * connections and DDL sessions opened for this and ended after it.
 */
async function createSchema(pool: WorkerPool, s: CopySetup, onSlice?: (work: WorkItem[], record: CopyRecord) => Promise<void>) {
  const {options} = s
  // More sessions only where the servers have connections to spare: each is a help, none a need.
  const more = async (role: 'source' | 'replica', n: number) => {
    const opened = await Promise.allSettled(Array.from({length: n}, () => pool.open(role, options[role], false)))
    return opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
  }
  const definitions = [await pool.open('source', options.source, false), ...(await more('source', DDL_SESSIONS - 1))]
  const extra = await more('replica', DDL_SESSIONS - 1)
  const replicas = [s.ddl, ...extra]
  await prepareDdlSessions(definitions, ...replicas)
  await createDatabases(definitions[0]!, s.ddl, options.databases)
  const planned = await planWork({...options, sources: definitions, replicas, tables: s.tables, onSlice, keys: s.keys})
  await Promise.all([...definitions, ...extra].map((c) => c.end()))
  return planned
}

/**
 * Moves the rows of every chunk of `items`, each worker from its source connection into its replica
 * connection. A table whose chunks are all in has its deferred keys built while others load.
 */
async function loadChunks(pool: WorkerPool, s: CopySetup, items: WorkItem[] | WorkQueue): Promise<void> {
  const {sources, replicas, batchBytes, recorder, keys} = s
  const pieces = piecePool(pool.threads, batchBytes)
  const chunksIn = new Map<number, number>()
  await pool.run(items, async (item, i) => {
    recorder.begin(item)
    const {sql, values} = chunkSelect(item.chunk)
    await copyChunk({
      source: sources[i]!,
      replica: replicas[i]!,
      select: sql,
      values,
      load: loadStatement(item.chunk.table),
      batchBytes,
      pool: pieces,
      label: `the table ${chunkName(item.chunk)}`,
      onLoaded: (n, b) => recorder.loaded(n, b, item),
    })
    recorder.done(item)
    const loaded = (chunksIn.get(item.tableIndex) ?? 0) + 1
    chunksIn.set(item.tableIndex, loaded)
    if (loaded === item.chunk.count) keys.start(item.chunk.table)
  })
}
