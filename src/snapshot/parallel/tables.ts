import type {Connection} from 'mariadb'
import {placeholders, quoteIdentifier, quoteQualified} from '../../lib/sql.js'

/** A base table to copy, as the source describes it. */
export interface TableInfo {
  database: string
  name: string
  columns: ColumnInfo[]
  /** The primary key's columns, in key order (empty: none; preflight refuses such tables). */
  primaryKey: string[]
  /** InnoDB's estimates, for chunking and progress. */
  estimatedRows: number
  estimatedBytes: number
}

export interface ColumnInfo {
  name: string
  /** information_schema's DATA_TYPE, lower case: `int`, `varchar`, `bit`, `point`… */
  type: string
}

/** A piece of a table: the rows whose leading key column is in [from, to); null is open-ended. */
export interface Chunk {
  table: TableInfo
  /** 0-based within the table. */
  index: number
  count: number
  from: bigint | null
  to: bigint | null
  estimatedBytes: number
}

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint'])

/**
 * The base tables of `databases`, with the columns a copy writes (generated columns are computed
 * by the replica itself) and the primary key.
 */
export async function listTables(conn: Connection, databases: string[]): Promise<TableInfo[]> {
  const tables = (await conn.query(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, COALESCE(TABLE_ROWS, 0) AS estimatedRows, COALESCE(DATA_LENGTH, 0) AS estimatedBytes
       FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (${placeholders(databases.length)}) ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    databases,
  )) as Array<{db: string; name: string; estimatedRows: number; estimatedBytes: number}>
  const columns = (await conn.query(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, COLUMN_NAME AS col, LOWER(DATA_TYPE) AS type, EXTRA AS extra
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (${placeholders(databases.length)}) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
    databases,
  )) as Array<{db: string; name: string; col: string; type: string; extra: string | null}>
  const keys = (await conn.query(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, COLUMN_NAME AS col FROM information_schema.STATISTICS
      WHERE INDEX_NAME = 'PRIMARY' AND TABLE_SCHEMA IN (${placeholders(databases.length)}) ORDER BY TABLE_SCHEMA, TABLE_NAME, SEQ_IN_INDEX`,
    databases,
  )) as Array<{db: string; name: string; col: string}>

  const byTable = new Map<string, TableInfo>()
  for (const t of tables) {
    byTable.set(tableKey({database: t.db, name: t.name}), {
      database: t.db,
      name: t.name,
      columns: [],
      primaryKey: [],
      estimatedRows: Number(t.estimatedRows),
      estimatedBytes: Number(t.estimatedBytes),
    })
  }
  for (const c of columns) {
    // VIRTUAL / PERSISTENT / STORED GENERATED: the replica computes them; LOAD DATA may not set them.
    if (/\b(VIRTUAL|PERSISTENT|STORED)\b/i.test(c.extra ?? '')) continue
    byTable.get(tableKey({database: c.db, name: c.name}))?.columns.push({name: c.col, type: c.type})
  }
  for (const k of keys) byTable.get(tableKey({database: k.db, name: k.name}))?.primaryKey.push(k.col)
  return [...byTable.values()]
}

/**
 * Splits each table into chunks of about `chunkBytes` by ranges of its primary key's leading
 * column, when that column is an integer; a table without one is a single chunk. The bounds come
 * from MIN/MAX read in the snapshot (`conn`), evenly spaced, and the first and last chunks are
 * open-ended, so that the chunks cover every possible row whatever the estimates say.
 */
export async function planChunks(conn: Connection, tables: TableInfo[], chunkBytes: number, maxChunksPerTable = 64): Promise<Chunk[]> {
  const chunks: Chunk[] = []
  for (const table of tables) {
    const wanted = Math.min(maxChunksPerTable, Math.ceil(table.estimatedBytes / chunkBytes))
    const lead = table.primaryKey[0]
    const leadType = table.columns.find((c) => c.name === lead)?.type
    let bounds: bigint[] = []
    if (wanted > 1 && lead !== undefined && leadType !== undefined && INTEGER_TYPES.has(leadType)) {
      const [row] = (await conn.query({
        sql: `SELECT CAST(MIN(${quoteIdentifier(lead)}) AS CHAR) AS lo, CAST(MAX(${quoteIdentifier(lead)}) AS CHAR) AS hi FROM ${quoteQualified(table.database, table.name)}`,
      })) as Array<{lo: string | null; hi: string | null}>
      if (row?.lo != null && row.hi != null) bounds = evenBounds(BigInt(row.lo), BigInt(row.hi), wanted)
    }
    chunks.push(...chunksFromBounds(table, bounds))
  }
  return chunks
}

/** The chunks of `table` cut at `bounds` (none: the whole table). */
export function chunksFromBounds(table: TableInfo, bounds: bigint[]): Chunk[] {
  const count = bounds.length + 1
  return Array.from({length: count}, (_, i) => ({
    table,
    index: i,
    count,
    from: i === 0 ? null : bounds[i - 1]!,
    to: i === count - 1 ? null : bounds[i]!,
    estimatedBytes: table.estimatedBytes / count,
  }))
}

/** The bounds the chunks of one table were cut at (their `from`s but the first's). */
export function boundsOf(chunks: Chunk[]): bigint[] {
  return chunks.slice(1).map((c) => c.from!)
}

/** `parts - 1` increasing bounds strictly inside (lo, hi], so that `parts` ranges cover [lo, hi]. */
export function evenBounds(lo: bigint, hi: bigint, parts: number): bigint[] {
  const span = hi - lo + 1n
  const n = BigInt(Math.max(1, parts))
  const bounds: bigint[] = []
  for (let i = 1n; i < n; i++) {
    const b = lo + (span * i) / n
    if (b > lo && b <= hi && (bounds.length === 0 || b > bounds.at(-1)!)) bounds.push(b)
  }
  return bounds
}

/**
 * The chunk's SELECT: every column as the server's own bytes (`CAST(… AS BINARY)`: no character
 * set conversion, no number parsing in Node), in key order, so that InnoDB on the replica appends.
 * BIT goes as its number, FLOAT through DOUBLE (the text of a FLOAT has 6 digits, which would not
 * load back to the same value).
 */
export function chunkSelect(chunk: Chunk): {sql: string; values: unknown[]} {
  const {table} = chunk
  const exprs = table.columns.map((c) => selectExpression(c))
  const {where, values} = chunkWhere(chunk)
  const order = table.primaryKey.length > 0 ? ` ORDER BY ${table.primaryKey.map((k) => quoteIdentifier(k)).join(', ')}` : ''
  return {sql: `SELECT ${exprs.join(', ')} FROM ${quoteQualified(table.database, table.name)}${where}${order}`, values}
}

/** ` WHERE <lead> >= ? AND <lead> < ?` for the chunk's range (empty for a whole table). */
export function chunkWhere(chunk: Chunk): {where: string; values: unknown[]} {
  const parts: string[] = []
  const values: unknown[] = []
  const lead = chunk.table.primaryKey[0]
  if (lead !== undefined && chunk.from !== null) {
    parts.push(`${quoteIdentifier(lead)} >= ?`)
    values.push(chunk.from)
  }
  if (lead !== undefined && chunk.to !== null) {
    parts.push(`${quoteIdentifier(lead)} < ?`)
    values.push(chunk.to)
  }
  return {where: parts.length > 0 ? ` WHERE ${parts.join(' AND ')}` : '', values}
}

/**
 * A checksum of the chunk's rows that both servers compute alike (same version, same table): the
 * row count, and the XOR over the rows of each half of the MD5 of the row, encoded without
 * ambiguity (each column as `length:bytes`, NULL as `-`), as pt-table-checksum does.
 */
export function chunkChecksum(chunk: Chunk): {sql: string; values: unknown[]} {
  const row = chunk.table.columns.map((c) => {
    const e = selectExpression(c)
    return `IFNULL(CONCAT(LENGTH(${e}), ':', ${e}), '-')`
  })
  const {where, values} = chunkWhere(chunk)
  return {
    sql:
      `SELECT COUNT(*) AS n, CAST(COALESCE(BIT_XOR(CAST(CONV(LEFT(h, 16), 16, 10) AS UNSIGNED)), 0) AS CHAR) AS a, ` +
      `CAST(COALESCE(BIT_XOR(CAST(CONV(RIGHT(h, 16), 16, 10) AS UNSIGNED)), 0) AS CHAR) AS b ` +
      `FROM (SELECT MD5(CONCAT(${row.join(', ')})) AS h FROM ${quoteQualified(chunk.table.database, chunk.table.name)}${where}) AS rows_of_chunk`,
    values,
  }
}

/**
 * The LOAD DATA statement for `table`, reading what {@link chunkSelect} wrote: `CHARACTER SET
 * binary` so the bytes land as they were read, BIT through a variable.
 */
export function loadStatement(table: TableInfo): string {
  const targets: string[] = []
  const sets: string[] = []
  table.columns.forEach((c, i) => {
    if (c.type === 'bit') {
      targets.push(`@v${i}`)
      sets.push(`${quoteIdentifier(c.name)} = CAST(@v${i} AS UNSIGNED)`)
    } else {
      targets.push(quoteIdentifier(c.name))
    }
  })
  return (
    `LOAD DATA LOCAL INFILE 'datain-rows' INTO TABLE ${quoteQualified(table.database, table.name)} CHARACTER SET binary ` +
    `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${targets.join(', ')})` +
    (sets.length > 0 ? ` SET ${sets.join(', ')}` : '')
  )
}

/** A column as the bytes both servers agree on: what a copy writes and a checksum hashes. */
export function selectExpression(column: ColumnInfo): string {
  const c = quoteIdentifier(column.name)
  if (column.type === 'bit') return `CAST(${c} + 0 AS BINARY)`
  if (column.type === 'float') return `CAST(${c} + 0e0 AS BINARY)`
  // Text, numbers and dates as their text; BLOBs as they are; geometry as the server stores it
  // (SRID + WKB), which LOAD DATA takes back as it is.
  return `CAST(${c} AS BINARY)`
}

/** `db`.`table`, for messages and progress. */
export function tableLabel(table: Pick<TableInfo, 'database' | 'name'>): string {
  return `${table.database}.${table.name}`
}

/** What identifies a table in a map: its database and name, which no NUL can join ambiguously. */
export function tableKey(table: {database: string; name: string}): string {
  return `${table.database}\u0000${table.name}`
}
