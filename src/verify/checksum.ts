import type {Connection} from 'mariadb'
import {sizedDeadlineMs, withDeadline} from '../lib/mariadb.js'
import {quoteIdentifier, quoteQualified} from '../lib/sql.js'
import {type ColumnInfo, selectExpression} from '../snapshot/parallel/tables.js'
import {keyAfter, keyBefore, keyOrder, type KeyColumn, keySelect, type KeyValue} from './keys.js'

/** A table to compare: every stored column (generated ones follow from them) and its primary key. */
export interface VerifyTable {
  database: string
  name: string
  columns: ColumnInfo[]
  key: KeyColumn[]
  estimatedRows: number
  /**
   * false when the source's text columns share one collation: their values then go into the row's
   * encoding as they are, without CAST(… AS BINARY) (a fifth of the chunk checksum's cost), since
   * CONCAT_WS has no collations to mix. Absent or true, every string is cast to its bytes.
   */
  castText?: boolean
}

/** The rows whose key is in [lo, hi): an absent bound is open, so that the chunks of a table cover every possible row. */
export interface KeyRange {
  lo?: KeyValue
  hi?: KeyValue
}

/** Row count and an order-independent hash of the rows, as both servers compute it. */
export interface Checksum {
  rows: number
  hash: string
}

export function sameChecksum(a: Checksum, b: Checksum): boolean {
  return a.rows === b.rows && a.hash === b.hash
}

export function rangeWhere(table: VerifyTable, range: KeyRange): {where: string; values: string[]} {
  const parts: string[] = []
  const values: string[] = []
  if (range.lo) {
    const after = keyAfter(table.key, range.lo, true)
    parts.push(after.sql)
    values.push(...after.values)
  }
  if (range.hi) {
    const before = keyBefore(table.key, range.hi, false)
    parts.push(before.sql)
    values.push(...before.values)
  }
  return {where: parts.length > 0 ? ` WHERE ${parts.join(' AND ')}` : '', values}
}

const PLAIN_TEXT = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint', 'decimal', 'numeric', 'double', 'year', 'date', 'datetime', 'timestamp', 'time'])
/** Types whose values CONCAT_WS takes as they are when {@link VerifyTable.castText} is false: text in the one collation, or bytes (charset binary, which mixes with any). */
const STRING_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set', 'binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob'])

/** Numbers, dates and BIT/FLOAT as digits: a value that can never hold the separator '#'. */
const delimited = (c: ColumnInfo) => PLAIN_TEXT.has(c.type) || c.type === 'bit' || c.type === 'float'

/**
 * Every column of a row in one string that no other row gives: a NULL bitmap, the byte length of
 * each column whose text could hold the separator but the last one, then the values (strings,
 * JSON, BLOBs and spatial as their exact bytes; numbers and dates as their full text, DATETIME(6)
 * with its microseconds). So NULL and '' differ, and 'a#','b' is not 'a','#b': the last column
 * whose text could hold '#' needs no length, as every value after it is digits, and the count of
 * separators is known. The same form as pt-table-checksum's CONCAT_WS, made unambiguous.
 */
export function rowEncoding(table: VerifyTable): string {
  const q = (c: ColumnInfo) => quoteIdentifier(c.name)
  const nulls = `CONCAT(${table.columns.map((c) => `ISNULL(${q(c)})`).join(', ')})`
  const measured = table.columns.filter((c) => !delimited(c)).slice(0, -1)
  const lengths = measured.map((c) => `LENGTH(${q(c)})`)
  const values = table.columns.map((c) => {
    if (PLAIN_TEXT.has(c.type)) return q(c)
    if (c.type === 'bit' || c.type === 'float') return selectExpression(c)
    if (table.castText === false && STRING_TYPES.has(c.type)) return q(c)
    // Bytes: CONCAT_WS of columns in different collations would otherwise fail (error 1267).
    return `CAST(${q(c)} AS BINARY)`
  })
  return `CONCAT_WS('#', ${[nulls, ...lengths, ...values].join(', ')})`
}

/** The MD5 of a row's encoding: what row-by-row narrowing compares. */
export function rowHash(table: VerifyTable): string {
  return `MD5(${rowEncoding(table)})`
}

/**
 * Row count and BIT_XOR of each row's CRC32 (order-independent, as pt-table-checksum does): a
 * changed, missing or extra row changes it, short of a 1 in 2^32 collision, and any change of up
 * to 32 consecutive bits of a row always does.
 */
export function checksumSql(table: VerifyTable, range: KeyRange): {sql: string; values: string[]} {
  const {where, values} = rangeWhere(table, range)
  return {
    sql: `SELECT CAST(COUNT(*) AS CHAR) AS n, CAST(COALESCE(BIT_XOR(CRC32(${rowEncoding(table)})), 0) AS CHAR) AS h FROM ${quoteQualified(table.database, table.name)}${where}`,
    values,
  }
}

export async function readChecksum(conn: Connection, table: VerifyTable, range: KeyRange): Promise<Checksum> {
  const {sql, values} = checksumSql(table, range)
  const [row] = (await conn.query({sql}, values)) as Array<{n: string; h: string}>
  return {rows: Number(row!.n), hash: row!.h}
}

/** Each row of the range: its key (as {@link keySelect} writes it) and its hash, keyed by the key's JSON. */
export async function readRowHashes(conn: Connection, table: VerifyTable, range: KeyRange): Promise<Map<string, string>> {
  const {where, values} = rangeWhere(table, range)
  const keys = table.key.map((k, i) => `${keySelect(k)} AS k${i}`)
  const rows = (await conn.query(
    {sql: `SELECT ${keys.join(', ')}, ${rowHash(table)} AS h FROM ${quoteQualified(table.database, table.name)}${where}`, rowsAsArray: true},
    values,
  )) as string[][]
  const hashes = new Map<string, string>()
  for (const row of rows) hashes.set(JSON.stringify(row.slice(0, table.key.length)), row[table.key.length]!)
  return hashes
}

/**
 * The key `rows` rows past `from` (inclusive) in key order, i.e. where the next chunk starts;
 * undefined when fewer rows are left. Read on the source only: a bound is a cut point, not data.
 */
export async function nextBound(conn: Connection, table: VerifyTable, from: KeyValue | undefined, rows: number): Promise<KeyValue | undefined> {
  const {where, values} = rangeWhere(table, {lo: from})
  const keys = table.key.map((k, i) => `${keySelect(k)} AS k${i}`)
  const [row] = (await conn.query(
    {
      sql: `SELECT ${keys.join(', ')} FROM ${quoteQualified(table.database, table.name)}${where} ORDER BY ${keyOrder(table.key)} LIMIT 1 OFFSET ${rows}`,
      rowsAsArray: true,
    },
    values,
  )) as string[][]
  return row ? row.map(String) : undefined
}

/**
 * CHECKSUM TABLE: the server's own checksum of every row's stored bytes, about three times cheaper
 * than any SQL expression. Equal on both servers (same version, same definition), the table is
 * identical; else, or when a server gives none (no such table), it is compared chunk by chunk.
 */
export async function tableChecksum(conn: Connection, table: VerifyTable): Promise<string | null> {
  // It reads the whole table and shows no progress: bounded by its size, a second for each 10,000
  // rows InnoDB estimates (CHECKSUM TABLE reads about a million a second), not the 60 s of a
  // metadata query, which ended every verify of a table of some tens of GB.
  const sql = `CHECKSUM TABLE ${quoteQualified(table.database, table.name)}`
  const [row] = (await conn.query(withDeadline(sql, sizedDeadlineMs(table.estimatedRows, 10_000)))) as Array<{Checksum: unknown}>
  return row?.Checksum === null || row?.Checksum === undefined ? null : String(row.Checksum)
}
