import {LOAD_SQL_MODE} from '../load-sql-mode.js'
import type {Connection} from 'mariadb'
import {placeholders, quoteQualified} from '../../lib/sql.js'
import type {KeyBuilds} from './key-builds.js'
import {createTables, definitionHash, tableDefinitions, type TableToCreate} from './schema.js'
import {boundsOf, type Chunk, chunksFromBounds, planChunks, type TableInfo, tableKey} from './tables.js'

/**
 * What a copy records as it goes, so that the run after a crash copies only what it must: each
 * table's definition (a hash), the key bounds it was cut at, and the chunks loaded and verified.
 */
export interface CopyRecord {
  tables: Array<{database: string; name: string; definition: string; bounds: string[]; done: number[]}>
}

export interface WorkItem {
  chunk: Chunk
  /** Index of its table in the record. */
  tableIndex: number
  /** `copy` into an empty table; `reload` a range an earlier run left unfinished; `verify` one it finished. */
  mode: 'copy' | 'reload' | 'verify'
}

export const DEFAULT_CHUNK_BYTES = 256 * 1024 * 1024
/**
 * The connector sends a LOAD DATA LOCAL batch as one packet, from a buffer of its own (1 MiB up to
 * there, 16 MiB past it) that lives until the replica has read it all: the longer that takes, the
 * more of these buffers V8 moves to its old generation, where they wait for a full collection.
 * Measured on the 8 × 200,000-row bench, 2 threads (snapshot seconds, peak RSS): 1 MB batches
 * 8.1–8.7 s, 143–157 MB; 500 kB 8.5–8.9 s, 124–127 MB; 250 kB 9.8–10.1 s, 117 MB.
 */
export const DEFAULT_BATCH_BYTES = 500_000

/**
 * The session of each connection that loads rows into the replica (the bench's replica limit uses
 * it too); without the server's max_statement_time, which would end a load, a resume's checksum or
 * DELETE of a large chunk half-way.
 */
export const REPLICA_LOAD_SESSION = `SET SESSION time_zone = '+00:00', foreign_key_checks = 0, unique_checks = 0, sql_mode = '${LOAD_SQL_MODE}', max_statement_time = 0`

/**
 * Creates the tables on the replica and lists the chunks to move, largest first. A table an
 * earlier run of this copy created, whose definition has not changed since, is kept with its cut:
 * its finished chunks are verified against this snapshot (and loaded again only where they
 * differ), the others emptied and loaded again. Because every kept chunk is checked against the
 * new snapshot, the copy ends as one of the source at this snapshot's position, whatever an
 * earlier run copied at its own. Any other table is created afresh. Before anything moves, the
 * triggers, views, routines and events an earlier run created are dropped: a trigger must not fire
 * for reloaded rows, and the objects are created again after the rows.
 */
export async function planWork(options: {
  /**
   * Connections of the source prepared by prepareDdlSessions, that read the definitions at once,
   * and the key bounds of large tables (the first). Outside the snapshot is fine: the first and
   * last chunks of a table are open-ended, so that any bounds cover every row.
   */
  sources: Connection[]
  /** Connections of the replica without LOAD DATA LOCAL, prepared by prepareDdlSessions, that pipeline: the tables are created on them at once. */
  replicas: Connection[]
  databases: string[]
  tables: TableInfo[]
  chunkBytes?: number
  resume?: CopyRecord
  /** Tables whose definitions are read, and which are created, together (default 500). */
  schemaSlice?: number
  /**
   * Called with the chunks of each slice of tables once they are created (largest first), and the
   * record that holds them: the rows may start to move while the next tables are created.
   */
  onSlice?: (work: WorkItem[], record: CopyRecord) => Promise<void>
  /** Which tables are created without their plain keys, built after the rows (see KeyBuilds). */
  keys?: KeyBuilds
}): Promise<{work: WorkItem[]; record: CopyRecord}> {
  const {sources, replicas, resume} = options
  const existing = resume ? await keepOnlyCurrentTables(replicas[0]!, options.databases, options.tables) : new Set<string>()
  const earlierByKey = new Map(resume?.tables.map((t) => [tableKey(t), t]))
  const record: CopyRecord = {tables: []}
  const work: WorkItem[] = []
  // A slice of the tables at a time: their definitions read at once, their tables created at once,
  // and no more than a slice's definitions in memory however many tables there are.
  // Largest first, so that the slices that come first hold the tables that take longest to copy.
  const bySize = options.tables.toSorted((a, b) => b.estimatedBytes - a.estimatedBytes)
  const slice = Math.max(1, options.schemaSlice ?? SCHEMA_SLICE)
  for (let first = 0; first < bySize.length; first += slice) {
    const tables = bySize.slice(first, first + slice)
    const sliceStart = work.length
    const ddls = await tableDefinitions(sources, tables)
    await options.keys?.scan(tables, ddls)
    const toCreate: TableToCreate[] = []
    for (const [i, table] of tables.entries()) {
      const ddl = ddls[i]!
      const definition = definitionHash(ddl)
      const earlier = earlierByKey.get(tableKey(table))
      const tableIndex = record.tables.length
      if (earlier && earlier.definition === definition && existing.has(tableKey(table))) {
        const done = new Set(earlier.done)
        for (const chunk of chunksFromBounds(table, earlier.bounds.map((b) => BigInt(b)))) {
          work.push({chunk, tableIndex, mode: done.has(chunk.index) ? 'verify' : 'reload'})
        }
        record.tables.push({database: table.database, name: table.name, definition, bounds: earlier.bounds, done: [...earlier.done]})
        options.keys?.mayLack(table, ddl)
        continue
      }
      toCreate.push({table, ddl: options.keys?.definitionFor(table, ddl) ?? ddl, replace: existing.has(tableKey(table))})
      const chunks = await planChunks(sources[0]!, [table], options.chunkBytes ?? DEFAULT_CHUNK_BYTES)
      for (const chunk of chunks) work.push({chunk, tableIndex, mode: 'copy'})
      record.tables.push({database: table.database, name: table.name, definition, bounds: boundsOf(chunks).map(String), done: []})
    }
    await createTables(replicas, toCreate)
    await options.onSlice?.(work.slice(sliceStart).sort(largestFirst), record)
  }
  work.sort(largestFirst)
  return {work, record}
}

/** Tables whose definitions are read, and which are created, together. */
const SCHEMA_SLICE = 500

const largestFirst = (a: WorkItem, b: WorkItem) => b.chunk.estimatedBytes - a.chunk.estimatedBytes

/**
 * On a resume: drops the objects an earlier run created, and the tables the source no longer
 * has; returns the keys of the base tables left on the replica.
 */
async function keepOnlyCurrentTables(replica: Connection, databases: string[], tables: TableInfo[]): Promise<Set<string>> {
  await dropObjects(replica, databases)
  const rows = (await replica.query(
    `SELECT TABLE_SCHEMA AS \`database\`, TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (${placeholders(databases.length)})`,
    databases,
  )) as Array<{database: string; name: string}>
  const current = new Set(tables.map(tableKey))
  for (const t of rows) if (!current.has(tableKey(t))) await replica.query(`DROP TABLE IF EXISTS ${quoteQualified(t.database, t.name)}`)
  return new Set(rows.map(tableKey))
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
export async function batchSize(replica: Connection, wanted: number): Promise<number> {
  const [row] = (await replica.query('SELECT @@max_allowed_packet AS max')) as Array<{max: number | bigint}>
  const max = Number(row?.max ?? 0)
  return max > 0 ? Math.max(64 * 1024, Math.min(wanted, Math.floor(max / 4))) : wanted
}
