import {availableParallelism} from 'node:os'
import type {Connection} from 'mariadb'
import {interruptedError} from '../../lib/client-tool-errors.js'
import {DatainError, ExitCode, isDatainError} from '../../lib/errors.js'
import {placeholders, quoteQualified} from '../../lib/sql.js'
import {connectTo, type ServerAddress} from '../../lib/mariadb.js'
import type {CopyProgress} from '../single-stream.js'
import {copyChunk, LoadRejectedError, piecePool, SourceReadError} from './chunk-copy.js'
import {connectForCopy} from './connections.js'
import {GarbageBound} from './garbage.js'
import {openConsistentSnapshot, type SnapshotOptions, type SnapshotPoint} from './consistent-snapshot.js'
import {createObjects, readObjects} from '../objects/copy-objects.js'
import {createDatabases, createTable, definitionHash, prepareDdlSessions, tableDefinition} from './schema.js'
import {
  boundsOf,
  type Chunk,
  chunkChecksum,
  chunkSelect,
  chunksFromBounds,
  chunkWhere,
  listTables,
  loadStatement,
  planChunks,
  type TableInfo,
  tableLabel,
} from './tables.js'

export interface ParallelCopyOptions {
  source: ServerAddress
  replica: ServerAddress
  databases: string[]
  /** Workers: each one source connection in the snapshot and one replica connection. */
  threads: number
  signal: AbortSignal
  onProgress?: (progress: CopyProgress) => void
  progressIntervalMs?: number
  /** Tables larger than this (InnoDB's estimate) are split by primary-key ranges. Default 256 MiB. */
  chunkBytes?: number
  /** Bytes of one LOAD DATA statement at most (see copyChunk). Default 500 kB. */
  batchBytes?: number
  snapshot?: SnapshotOptions
  /** Called once the snapshot is open, before any row is read (tests write to the source then). */
  onSnapshot?: (point: SnapshotPoint) => void | Promise<void>
  /** What an earlier, unfinished copy into these databases recorded: its tables are checked, not copied again. */
  resume?: CopyRecord
  /** Called with the record each time it changes (the tables planned, then each chunk done): keep it for a resume. */
  onRecord?: (record: CopyRecord) => Promise<void>
}

/**
 * What a copy records as it goes, so that the run after a crash copies only what it must: each
 * table's definition (a hash), the key bounds it was cut at, and the chunks loaded and verified.
 */
export interface CopyRecord {
  tables: Array<{database: string; name: string; definition: string; bounds: string[]; done: number[]}>
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
}

const DEFAULT_CHUNK_BYTES = 256 * 1024 * 1024
/**
 * The connector sends a LOAD DATA LOCAL batch as one packet, from a buffer of its own (1 MiB up to
 * there, 16 MiB past it) that lives until the replica has read it all: the longer that takes, the
 * more of these buffers V8 moves to its old generation, where they wait for a full collection.
 * Measured on the 8 × 200,000-row bench, 2 threads (snapshot seconds, peak RSS): 1 MB batches
 * 8.1–8.7 s, 143–157 MB; 500 kB 8.5–8.9 s, 124–127 MB; 250 kB 9.8–10.1 s, 117 MB.
 */
const DEFAULT_BATCH_BYTES = 500_000
/** See GarbageBound. At 4 × the bench's data: peak RSS 120 MB with it, 146 MB without. */
const GC_EVERY_BYTES = 32_000_000
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
 * tables) are shared out largest first; rows stream from the source into LOAD DATA LOCAL on the
 * replica with backpressure, so memory stays flat whatever the size. The routines, triggers,
 * events and views are read at the snapshot and created after the rows (a trigger must not fire
 * for them) by the objects module, like the tables' DDL on a replica connection without LOAD DATA
 * LOCAL, one statement per query.
 *
 * The databases must not exist on the replica. Any failure or abort ends every connection (the
 * source's snapshot with them) and throws; what was loaded stays, for the caller to drop.
 */
export async function parallelCopy(options: ParallelCopyOptions): Promise<ParallelCopyResult> {
  const started = Date.now()
  const threads = Math.max(1, Math.floor(options.threads))
  const opened: Connection[] = []
  let failure: unknown
  const fail = (error: unknown) => {
    failure ??= error
    // Ends every statement in flight: the other workers stop at once.
    for (const conn of opened) conn.destroy()
  }
  const onAbort = () => fail(interruptedError())
  if (options.signal.aborted) throw interruptedError()
  options.signal.addEventListener('abort', onAbort, {once: true})
  const open = async (role: 'source' | 'replica', address: ServerAddress, forRows = true) => {
    const conn = forRows ? await connectForCopy(role, address) : await connectTo(role, address)
    opened.push(conn)
    // A connection that dies between statements must not take the process with it.
    conn.on('error', () => {})
    if (failure !== undefined) conn.destroy()
    return conn
  }

  let rows = 0
  let bytes = 0
  let estimatedRows = 0
  const inFlight = new Map<number, string>()
  const report = (done = false) => {
    // Nothing to say before the first rows land (the snapshot, the tables): no rate, no ETA yet.
    if (rows > 0 || done) options.onProgress?.(progressOf({rows, bytes, estimatedRows, started, inFlight, done}))
  }
  const timer = options.onProgress ? setInterval(() => report(), options.progressIntervalMs ?? 1000) : undefined

  try {
    // The replica first: when it cannot be reached, nothing is asked of the source.
    const replicas = await Promise.all(Array.from({length: threads}, () => open('replica', options.replica)))
    // What the source wrote (table DDL, object bodies) runs on a connection that cannot LOAD DATA LOCAL.
    const ddl = await open('replica', options.replica, false)
    await Promise.all(
      replicas.map((r) => r.query("SET SESSION time_zone = '+00:00', foreign_key_checks = 0, unique_checks = 0, sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")),
    )
    const coordinator = await open('source', options.source)
    const sources = await Promise.all(Array.from({length: threads}, () => open('source', options.source)))
    await Promise.all(
      sources.map((s) =>
        // A worker whose rows wait for the replica must not be cut off by the source (net_write_timeout).
        s.query("SET SESSION time_zone = '+00:00', net_write_timeout = 86400, max_statement_time = 0"),
      ),
    )
    const point = await openConsistentSnapshot(coordinator, sources, options.snapshot)
    await coordinator.end()
    await options.onSnapshot?.(point)

    const tables = await listTables(sources[0]!, options.databases)
    // Read now, at the snapshot, while its connections live; created after the rows.
    const objects = await readObjects(sources[0]!, options.databases)
    estimatedRows = tables.reduce((n, t) => n + t.estimatedRows, 0)
    await prepareDdlSessions(sources[0]!, ddl)
    await createDatabases(sources[0]!, ddl, options.databases)
    const {work, record} = await planWork({...options, source: sources[0]!, replica: ddl, tables})
    let recording = Promise.resolve()
    const saveRecord = () => {
      // One write at a time, in order: each holds every chunk done so far.
      recording = recording.then(() => options.onRecord?.(structuredClone(record)))
      return recording
    }
    await saveRecord()
    work.sort((a, b) => b.chunk.estimatedBytes - a.chunk.estimatedBytes)
    const batchBytes = await batchSize(replicas[0]!, options.batchBytes ?? DEFAULT_BATCH_BYTES)
    let keptChunks = 0
    let keptRows = 0
    let reloadedChunks = 0
    const markDone = async (item: WorkItem) => {
      const entry = record.tables[item.tableIndex]!
      if (!entry.done.includes(item.chunk.index)) entry.done.push(item.chunk.index)
      await saveRecord()
    }
    /** Runs `task` on every item, one worker per thread, until all are done or one fails. */
    const shareOut = async (items: WorkItem[], task: (item: WorkItem, i: number) => Promise<void>) => {
      const queue = [...items]
      await Promise.all(
        sources.map(async (_, i) => {
          for (let item = queue.shift(); item && failure === undefined; item = queue.shift()) {
            inFlight.set(i, tableLabel(item.chunk.table))
            try {
              await task(item, i)
            } catch (error) {
              fail(chunkError(item.chunk, error))
              return
            } finally {
              inFlight.delete(i)
            }
          }
        }),
      )
      if (failure !== undefined) throw failure
    }

    // A resume in three phases, so that no DELETE runs beside a LOAD (their locks would meet):
    // what an earlier run finished is checked first, read-only on both sides…
    const toLoad = work.filter((item) => item.mode !== 'verify')
    await shareOut(
      work.filter((item) => item.mode === 'verify'),
      async (item, i) => {
        const {sql, values} = chunkChecksum(item.chunk)
        type Sum = Array<{n: unknown; a: string; b: string}>
        const [[mine], [theirs]] = (await Promise.all([sources[i]!.query(sql, values), replicas[i]!.query(sql, values)])) as [Sum, Sum]
        if (String(mine!.n) === String(theirs!.n) && mine!.a === theirs!.a && mine!.b === theirs!.b) {
          keptChunks++
          keptRows += Number(mine!.n)
          rows += Number(mine!.n)
          await markDone(item)
        } else {
          toLoad.push({...item, mode: 'reload'})
        }
      },
    )
    // …then what differs, or was left half loaded, is emptied (no cascade: foreign key checks are off)…
    for (const item of toLoad) {
      if (item.mode !== 'reload') continue
      const {where, values} = chunkWhere(item.chunk)
      await ddl.query(`DELETE FROM ${quoteQualified(item.chunk.table.database, item.chunk.table.name)}${where}`, values).catch((error: unknown) => {
        throw chunkError(item.chunk, error)
      })
      reloadedChunks++
    }
    // …and the rows move.
    toLoad.sort((a, b) => b.chunk.estimatedBytes - a.chunk.estimatedBytes)
    const pool = piecePool(threads, batchBytes)
    const garbage = new GarbageBound(GC_EVERY_BYTES)
    await shareOut(toLoad, async (item, i) => {
      const {sql, values} = chunkSelect(item.chunk)
      await copyChunk({
        source: sources[i]!,
        replica: replicas[i]!,
        select: sql,
        values,
        load: loadStatement(item.chunk.table),
        batchBytes,
        pool,
        label: `the table ${tableLabel(item.chunk.table)}${item.chunk.count > 1 ? ` (part ${item.chunk.index + 1} of ${item.chunk.count})` : ''}`,
        onLoaded: (n, b) => {
          rows += n
          bytes += b
          garbage.add(b)
        },
      })
      await markDone(item)
    })
    if (failure !== undefined) throw failure
    // Every row is read: the source's snapshot can go.
    await Promise.all(sources.map((s) => s.end().catch(() => s.destroy())))

    const created = await createObjects(ddl, objects)
    if (failure !== undefined) throw failure
    report(true)
    return {
      point,
      rows,
      bytes,
      seconds: (Date.now() - started) / 1000,
      tables: tables.length,
      chunks: work.length,
      threads,
      definers: created.definers,
      eventsDisabledOnSlave: created.eventsDisabledOnSlave,
      keptChunks,
      keptRows,
      reloadedChunks,
    }
  } catch (error) {
    if (options.signal.aborted) throw interruptedError()
    const first = failure ?? error
    if (isDatainError(first)) throw first
    throw new DatainError(`The copy failed: ${(first as {sqlMessage?: string})?.sqlMessage ?? (first as Error)?.message ?? String(first)}. Run 'datain start' again.`, {
      code: 'E_SNAPSHOT_COPY',
      exit: ExitCode.failed,
      cause: first,
    })
  } finally {
    if (timer) clearInterval(timer)
    options.signal.removeEventListener('abort', onAbort)
    await Promise.allSettled(opened.map((c) => (c.isValid() ? c.end() : Promise.resolve())))
    for (const conn of opened) conn.destroy()
  }
}

interface WorkItem {
  chunk: Chunk
  /** Index of its table in the record. */
  tableIndex: number
  /** `copy` into an empty table; `reload` a range an earlier run left unfinished; `verify` one it finished. */
  mode: 'copy' | 'reload' | 'verify'
}

/**
 * Creates the tables on the replica and lists the chunks to move. A table an earlier run of this
 * copy created, whose definition has not changed since, is kept with its cut: its finished chunks
 * are verified against this snapshot (and loaded again only where they differ), the others
 * emptied and loaded again. Because every kept chunk is checked against the new snapshot, the
 * copy ends as one of the source at this snapshot's position, whatever an earlier run copied at
 * its own. Any other table is created afresh. Before anything moves, the triggers, views,
 * routines and events an earlier run created are dropped: a trigger must not fire for reloaded
 * rows, and the objects are created again after the rows.
 */
async function planWork(options: {
  source: Connection
  replica: Connection
  databases: string[]
  tables: TableInfo[]
  chunkBytes?: number
  resume?: CopyRecord
}): Promise<{work: WorkItem[]; record: CopyRecord}> {
  const {source, replica, resume} = options
  const key = (t: {database: string; name: string}) => `${t.database}\u0000${t.name}`
  let existing = new Set<string>()
  if (resume) {
    await dropObjects(replica, options.databases)
    const rows = (await replica.query(
      `SELECT TABLE_SCHEMA AS \`database\`, TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (${placeholders(options.databases.length)})`,
      options.databases,
    )) as Array<{database: string; name: string}>
    existing = new Set(rows.map(key))
    const current = new Set(options.tables.map(key))
    // Tables the source no longer has.
    for (const t of rows) if (!current.has(key(t))) await replica.query(`DROP TABLE IF EXISTS ${quoteQualified(t.database, t.name)}`)
  }
  const record: CopyRecord = {tables: []}
  const work: WorkItem[] = []
  for (const table of options.tables) {
    const ddl = await tableDefinition(source, table)
    const definition = definitionHash(ddl)
    const earlier = resume?.tables.find((t) => key(t) === key(table))
    const tableIndex = record.tables.length
    if (earlier && earlier.definition === definition && existing.has(key(table))) {
      const done = new Set(earlier.done)
      for (const chunk of chunksFromBounds(table, earlier.bounds.map((b) => BigInt(b)))) {
        work.push({chunk, tableIndex, mode: done.has(chunk.index) ? 'verify' : 'reload'})
      }
      record.tables.push({database: table.database, name: table.name, definition, bounds: earlier.bounds, done: [...earlier.done]})
      continue
    }
    if (existing.has(key(table))) await replica.query(`DROP TABLE IF EXISTS ${quoteQualified(table.database, table.name)}`)
    await createTable(replica, table, ddl)
    const chunks = await planChunks(source, [table], options.chunkBytes ?? DEFAULT_CHUNK_BYTES)
    for (const chunk of chunks) work.push({chunk, tableIndex, mode: 'copy'})
    record.tables.push({database: table.database, name: table.name, definition, bounds: boundsOf(chunks).map(String), done: []})
  }
  return {work, record}
}

/** Drops the triggers, views, routines and events of `databases` on the replica. */
async function dropObjects(replica: Connection, databases: string[]): Promise<void> {
  const list = placeholders(databases.length)
  const objects = (await replica.query(
    `SELECT 'TRIGGER' AS kind, TRIGGER_SCHEMA AS db, TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN (${list})
     UNION ALL SELECT 'VIEW', TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN (${list})
     UNION ALL SELECT ROUTINE_TYPE, ROUTINE_SCHEMA, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN (${list})
     UNION ALL SELECT 'EVENT', EVENT_SCHEMA, EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN (${list})`,
    [...databases, ...databases, ...databases, ...databases],
  )) as Array<{kind: string; db: string; name: string}>
  for (const o of objects) await replica.query(`DROP ${o.kind} IF EXISTS ${quoteQualified(o.db, o.name)}`)
}

/** The batch size, kept well under the replica's max_allowed_packet (the connector sends a batch as one packet). */
async function batchSize(replica: Connection, wanted: number): Promise<number> {
  const [row] = (await replica.query('SELECT @@max_allowed_packet AS max')) as Array<{max: number | bigint}>
  const max = Number(row?.max ?? 0)
  return max > 0 ? Math.max(64 * 1024, Math.min(wanted, Math.floor(max / 4))) : wanted
}

function chunkError(chunk: Chunk, error: unknown): unknown {
  if (isDatainError(error)) return error
  const where = `${tableLabel(chunk.table)}${chunk.count > 1 ? ` (part ${chunk.index + 1} of ${chunk.count})` : ''}`
  if (error instanceof SourceReadError) {
    const cause = error.cause as {errno?: number; sqlMessage?: string; message?: string}
    const ddl = cause?.errno === 1412 ? ' The table was changed (DDL) after the snapshot began: do not change tables while datain copies them.' : ''
    return new DatainError(`Reading the rows of ${where} from the source failed: ${cause?.sqlMessage ?? cause?.message ?? String(cause)}.${ddl} Run 'datain start' again.`, {
      code: 'E_SNAPSHOT_DUMP',
      exit: ExitCode.failed,
      cause,
    })
  }
  if (error instanceof LoadRejectedError) {
    return new DatainError(`The replica did not take every row of ${where}: ${error.message}. Nothing was linked; run 'datain start' again once the cause is fixed.`, {
      code: 'E_SNAPSHOT_LOAD',
      exit: ExitCode.failed,
      cause: error,
    })
  }
  const e = error as {errno?: number; sqlMessage?: string; message?: string}
  const infile =
    e?.errno === 1148 || e?.errno === 4166 || e?.errno === 3948
      ? " The replica refuses LOAD DATA LOCAL (its server parameter local_infile is OFF): turn it ON, or run 'datain start --parallel 1' for the single-stream copy (mariadb-dump piped into mariadb)."
      : ''
  return new DatainError(`Loading the rows of ${where} into the replica failed: ${e?.sqlMessage ?? e?.message ?? String(error)}.${infile}`, {
    code: 'E_SNAPSHOT_LOAD',
    exit: ExitCode.failed,
    cause: error,
  })
}

function progressOf(s: {rows: number; bytes: number; estimatedRows: number; started: number; inFlight: Map<number, string>; done: boolean}): CopyProgress {
  const seconds = Math.max(0.001, (Date.now() - s.started) / 1000)
  const rowsPerSecond = s.rows / seconds
  const tables = [...new Set(s.inFlight.values())]
  return {
    bytes: s.bytes,
    rows: s.rows,
    seconds,
    estimatedRows: s.estimatedRows,
    bytesPerSecond: s.bytes / seconds,
    rowsPerSecond,
    etaSeconds: s.estimatedRows > 0 && rowsPerSecond > 0 ? Math.max(0, s.estimatedRows - s.rows) / rowsPerSecond : undefined,
    table: tables.length === 0 ? undefined : tables.length === 1 ? tables[0] : `${tables[0]} +${tables.length - 1}`,
    done: s.done,
  }
}
