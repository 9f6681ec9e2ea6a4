import {quoteIdentifier} from '../lib/sql.js'

/** A primary-key column, with what it takes to carry its values from one server to the other exactly. */
export interface KeyColumn {
  name: string
  /** information_schema's DATA_TYPE, lower case. */
  type: string
  /** COLUMN_TYPE, e.g. `decimal(20,4) unsigned`. */
  columnType: string
  charset: string | null
  collation: string | null
}

/** One row's primary-key values as text: digits, a temporal text, or hex of the bytes for strings. */
export type KeyValue = string[]

const INTEGER = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint', 'year'])
const NUMERIC_CAST = new Set(['decimal', 'numeric', 'float', 'double'])
const BINARY = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob'])
const TEXT = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext'])

/**
 * How a key column is read as text: strings as the hex of their bytes (no character set
 * conversion on the way), ENUM/SET/BIT as their number (the order their index keeps), the rest as
 * the server's own text of the value.
 */
export function keySelect(column: KeyColumn): string {
  const c = quoteIdentifier(column.name)
  if (BINARY.has(column.type) || TEXT.has(column.type)) return `HEX(${c})`
  if (column.type === 'enum' || column.type === 'set' || column.type === 'bit') return `CAST(${c} + 0 AS CHAR)`
  return `CAST(${c} AS CHAR)`
}

/**
 * The placeholder a key value goes back into, typed so that the server compares it as the index
 * orders the column: a string in the column's own character set and collation (a binary string
 * would compare bytes, not the collation), a number as a number (an integer column against a
 * string literal compares as DOUBLE, which loses bigints beyond 2^53).
 */
export function keyPlaceholder(column: KeyColumn): string {
  if (BINARY.has(column.type)) return 'UNHEX(?)'
  if (TEXT.has(column.type) && column.charset && column.collation) {
    return `CONVERT(UNHEX(?) USING ${safeName(column.charset)}) COLLATE ${safeName(column.collation)}`
  }
  if (INTEGER.has(column.type) || column.type === 'enum' || column.type === 'set' || column.type === 'bit') {
    return /unsigned|enum|set|bit|year/.test(column.columnType) ? 'CAST(? AS UNSIGNED)' : 'CAST(? AS SIGNED)'
  }
  if (NUMERIC_CAST.has(column.type)) {
    const m = /^(?:decimal|numeric)\((\d+),(\d+)\)/.exec(column.columnType)
    return m ? `CAST(? AS DECIMAL(${m[1]},${m[2]}))` : 'CAST(? AS DOUBLE)'
  }
  // Temporal types: a string constant against a temporal column is read as that type.
  return '?'
}

/** Character set and collation names come from information_schema: letters, digits and `_` only. */
function safeName(name: string): string {
  if (!/^\w+$/.test(name)) throw new Error(`bug: unexpected character set or collation name ${JSON.stringify(name)}`)
  return name
}

/**
 * `key >= lo` (or `> lo` when not inclusive) in the lexicographic order of a composite key,
 * written out as `(a > ?) OR (a = ? AND b > ?) …`, the form MariaDB's range optimizer turns into
 * an index range (it does not for a row constructor `(a, b) > (?, ?)`).
 */
export function keyAfter(columns: KeyColumn[], value: KeyValue, inclusive: boolean): {sql: string; values: string[]} {
  return lexicographic(columns, value, '>', inclusive)
}

/** `key < hi` (or `<= hi`) in the key's order. */
export function keyBefore(columns: KeyColumn[], value: KeyValue, inclusive: boolean): {sql: string; values: string[]} {
  return lexicographic(columns, value, '<', inclusive)
}

function lexicographic(columns: KeyColumn[], value: KeyValue, op: '<' | '>', inclusive: boolean): {sql: string; values: string[]} {
  const terms: string[] = []
  const values: string[] = []
  columns.forEach((column, i) => {
    const parts: string[] = []
    for (let j = 0; j < i; j++) {
      parts.push(`${quoteIdentifier(columns[j]!.name)} = ${keyPlaceholder(columns[j]!)}`)
      values.push(value[j]!)
    }
    const last = i === columns.length - 1
    parts.push(`${quoteIdentifier(column.name)} ${op}${last && inclusive ? '=' : ''} ${keyPlaceholder(column)}`)
    values.push(value[i]!)
    terms.push(`(${parts.join(' AND ')})`)
  })
  return {sql: `(${terms.join(' OR ')})`, values}
}

/** `ORDER BY` the key, ascending: the order the chunks' bounds are read in. */
export function keyOrder(columns: KeyColumn[]): string {
  return columns.map((c) => quoteIdentifier(c.name)).join(', ')
}

/** A key value for people: numbers and dates as they are, strings decoded when they are text, bytes as 0x…. */
export function displayKey(columns: KeyColumn[], value: KeyValue): unknown[] {
  return columns.map((column, i) => {
    const v = value[i]!
    if (BINARY.has(column.type)) return `0x${v}`
    if (TEXT.has(column.type)) {
      const bytes = Buffer.from(v, 'hex')
      if (column.charset && /^(utf8|ascii)/.test(column.charset)) return new TextDecoder('utf-8', {fatal: false}).decode(bytes)
      if (column.charset === 'latin1') return bytes.toString('latin1')
      return `0x${v}`
    }
    return v
  })
}
