import type {Connection} from 'mariadb'
import {quoteQualified} from '../lib/sql.js'
import {type ColumnInfo, selectExpression} from '../snapshot/parallel/tables.js'
import {keyAfter, keyBefore, keyOrder, type KeyColumn, keySelect, type KeyValue} from './keys.js'

/** A table to compare: every stored column (generated ones follow from them) and its primary key. */
export interface VerifyTable {
  database: string
  name: string
  columns: ColumnInfo[]
  key: KeyColumn[]
  estimatedRows: number
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

/**
 * The MD5 of every column's exact bytes, each as `length:bytes` and NULL as `-`: no two different
 * rows (NULL against '', 'a','bc' against 'ab','c') give the same text. JSON, BLOB, DECIMAL and
 * DATETIME(6) hash as the server's bytes or full text; spatial columns as the stored WKB.
 */
export function rowHash(table: VerifyTable): string {
  const parts = table.columns.map((c) => {
    const e = selectExpression(c)
    return `IFNULL(CONCAT(LENGTH(${e}), ':', ${e}), '-')`
  })
  return `MD5(CONCAT(${parts.join(', ')}))`
}

/** BIT_XOR over the rows of each half of the row's MD5: the same for the same rows in any order. */
export function checksumSql(table: VerifyTable, range: KeyRange): {sql: string; values: string[]} {
  const {where, values} = rangeWhere(table, range)
  const half = (side: 'LEFT' | 'RIGHT') => `CAST(COALESCE(BIT_XOR(CAST(CONV(${side}(h, 16), 16, 10) AS UNSIGNED)), 0) AS CHAR)`
  return {
    sql:
      `SELECT CAST(COUNT(*) AS CHAR) AS n, ${half('LEFT')} AS a, ${half('RIGHT')} AS b ` +
      `FROM (SELECT ${rowHash(table)} AS h FROM ${quoteQualified(table.database, table.name)}${where}) AS chunk_rows`,
    values,
  }
}

export async function readChecksum(conn: Connection, table: VerifyTable, range: KeyRange): Promise<Checksum> {
  const {sql, values} = checksumSql(table, range)
  const [row] = (await conn.query({sql}, values)) as Array<{n: string; a: string; b: string}>
  return {rows: Number(row!.n), hash: `${row!.a}:${row!.b}`}
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
