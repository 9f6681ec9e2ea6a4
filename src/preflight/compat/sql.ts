import type {Connection} from 'mariadb'

/** A MariaDB identifier in backticks, backticks inside doubled: safe for any database or table name. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``
}

/** `db`.`table`, both parts quoted. */
export function quoteTable(database: string, table: string): string {
  return `${quoteIdentifier(database)}.${quoteIdentifier(table)}`
}

/**
 * A string literal for SQL that a person copies from a fix. Values datain sends itself go as bound
 * parameters; this is only for text shown to the user.
 */
export function quoteString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
}

/** `'user'@'host'` as GRANT and DROP USER take it. */
export function quoteAccount(user: string, host: string): string {
  return `${quoteString(user)}@${quoteString(host)}`
}

/** `?, ?, ?` for an IN list of `count` bound values (at least one, so that `IN ()` never happens). */
export function placeholders(count: number): string {
  return Array.from({length: Math.max(1, count)}, () => '?').join(', ')
}

/** `text` as a LIKE (or replication filter) pattern that matches only itself: `\`, `%` and `_` escaped. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`)
}

/**
 * Whether `text` matches a LIKE pattern (`%` any run, `_` one character, `\` escapes), the way the
 * server's wild compare treats GRANT database patterns and `replicate_wild_*_table` rules.
 */
export function likeMatch(pattern: string, text: string, options: {caseInsensitive: boolean}): boolean {
  const fold = (s: string) => (options.caseInsensitive ? s.toLowerCase() : s)
  const p = [...fold(pattern)]
  const t = [...fold(text)]
  // Tokens: literal characters, or the two wildcards.
  const tokens: Array<{any: boolean; one: boolean; char?: string}> = []
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!
    if (c === '\\' && i + 1 < p.length) tokens.push({any: false, one: false, char: p[++i]})
    else if (c === '%') tokens.push({any: true, one: false})
    else if (c === '_') tokens.push({any: false, one: true})
    else tokens.push({any: false, one: false, char: c})
  }
  // Dynamic programming over (token, character): no exponential backtracking on many `%`.
  let row = new Array<boolean>(t.length + 1).fill(false)
  row[0] = true
  for (const token of tokens) {
    const next = new Array<boolean>(t.length + 1).fill(false)
    if (token.any) {
      let reachable = false
      for (let j = 0; j <= t.length; j++) {
        reachable ||= row[j]!
        next[j] = reachable
      }
    } else {
      for (let j = 1; j <= t.length; j++) next[j] = row[j - 1]! && (token.one || t[j - 1] === token.char)
    }
    row = next
  }
  return row[t.length]!
}

export type VariableValue = string | number | null

/** Global variables in one round trip, keyed by name. Names are datain's own constants, never input. */
export async function globalVariables<N extends string>(conn: Connection, names: readonly N[]): Promise<Record<N, VariableValue>> {
  for (const name of names) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a system variable name: ${name}`)
  }
  const [row] = (await conn.query(`SELECT ${names.map((n) => `@@global.${n} AS ${n}`).join(', ')}`)) as Array<Record<N, VariableValue>>
  return row!
}

/** `SELECT VERSION()`; on Azure the handshake's version is the gateway's own, never the server's. */
export async function serverVersion(conn: Connection): Promise<string> {
  const [row] = (await conn.query('SELECT VERSION() AS version')) as Array<{version: string}>
  return row!.version
}

export interface MajorMinor {
  major: number
  minor: number
}

/** The major.minor line of a version string such as `10.11.19-MariaDB-0+deb12u1-log`. */
export function majorMinor(version: string): MajorMinor | undefined {
  const match = /^(\d+)\.(\d+)/.exec(version.trim())
  return match ? {major: Number(match[1]), minor: Number(match[2])} : undefined
}

export function formatMajorMinor(v: MajorMinor): string {
  return `${v.major}.${v.minor}`
}

/** `1 table`, `2 tables`. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`
}

/** `the database shop`, `the databases a and b`: what a check looked at, for its message. */
export function databasesText(databases: readonly string[]): string {
  if (databases.length === 0) return 'no database (the source holds no user database)'
  return `the ${databases.length === 1 ? 'database' : 'databases'} ${listText(databases)}`
}

/** `a, b and c`: offender lists in messages read as a sentence. */
export function listText(items: readonly string[], limit = 10): string {
  const shown = items.slice(0, limit)
  const rest = items.length - shown.length
  const head = rest > 0 ? [...shown, `${rest} more`] : shown
  if (head.length <= 1) return head.join('')
  return `${head.slice(0, -1).join(', ')} and ${head.at(-1)}`
}
