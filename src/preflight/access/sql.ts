import type {Connection} from 'mariadb'

/** A MariaDB account or role: `host` is undefined for a role (roles have no host part). */
export interface Account {
  user: string
  host?: string
}

/** An identifier in backticks, backticks inside doubled: names may hold quotes, spaces and unicode. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``
}

/** A database name in GRANT … ON `db`.*: `_` and `%` are wildcards there unless escaped. */
export function grantDatabase(name: string): string {
  return quoteIdentifier(name.replace(/[\\_%]/g, (c) => `\\${c}`))
}

/** A string literal for SQL that a person runs (a fix): quotes doubled, backslashes escaped (default sql_mode). */
export function sqlString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
}

/** `'user'@'host'` as GRANT, CREATE USER and DROP USER take it; a role as `'name'`. */
export function accountSql(account: Account): string {
  return account.host === undefined ? sqlString(account.user) : `${sqlString(account.user)}@${sqlString(account.host)}`
}

/**
 * An account as CURRENT_USER() and the DEFINER columns of information_schema write it, `user@host`.
 * The host is after the last `@`: user names may hold `@` (Azure's admin is `name@server`), host names do not.
 * Without `@` it is a role.
 */
export function parseUserAtHost(text: string): Account {
  const at = text.lastIndexOf('@')
  return at < 0 ? {user: text} : {user: text.slice(0, at), host: text.slice(at + 1)}
}

/** Same account: user names compare exactly, host names without regard to case (as MariaDB does). */
export function sameAccount(a: Account, b: Account): boolean {
  return a.user === b.user && (a.host ?? '').toLowerCase() === (b.host ?? '').toLowerCase() && (a.host === undefined) === (b.host === undefined)
}

/** `?, ?, ?` for an IN list of `n` bound values. */
export function placeholders(n: number): string {
  return Array.from({length: n}, () => '?').join(', ')
}

/** `db`.`name`, for messages and offenders. */
export function objectName(db: string, name: string): string {
  return `${quoteIdentifier(db)}.${quoteIdentifier(name)}`
}

/** The selected databases in a message: named when few, counted when many. */
export function describeDatabases(databases: string[]): string {
  if (databases.length === 0) return 'no database'
  if (databases.length <= 3) return `${databases.length === 1 ? 'database' : 'databases'} ${databases.map(quoteIdentifier).join(', ')}`
  return `${databases.length} databases`
}

/** The values of global variables that exist on this server (a name the server lacks is absent from the map). */
export async function globalVariables(conn: Connection, names: string[]): Promise<Map<string, string>> {
  const rows: Array<{Variable_name: string; Value: string}> = await conn.query(
    `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${placeholders(names.length)})`,
    names,
  )
  return new Map(rows.map((r) => [r.Variable_name.toLowerCase(), r.Value]))
}

/** MariaDB's error number of a failed query, if it is one. */
export function sqlErrno(error: unknown): number | undefined {
  const errno = (error as {errno?: unknown})?.errno
  return typeof errno === 'number' ? errno : undefined
}

/** Errors that mean "this account may not read that table": 1142 table access denied, 1044 database access denied. */
export function isAccessDenied(error: unknown): boolean {
  const errno = sqlErrno(error)
  return errno === 1142 || errno === 1044 || errno === 1143
}

/** The version as [major, minor, patch] from `SELECT VERSION()` text such as `10.11.19-MariaDB-log`. */
export function parseVersion(text: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(text)
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0]
}

export function versionAtLeast(version: [number, number, number], wanted: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) {
    if (version[i]! !== wanted[i]!) return version[i]! > wanted[i]!
  }
  return true
}

/** `1.2 MB`, `3.4 GB`: sizes in messages (decimal units, as rates in MB/s are). */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB']
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`
}

/** `45 s`, `1 h 5 min`, `2 d 3 h`: durations in messages. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  const minutes = Math.round(s / 60)
  if (minutes < 24 * 60) {
    const h = Math.floor(minutes / 60)
    const min = minutes % 60
    return h === 0 ? `${min} min` : min === 0 ? `${h} h` : `${h} h ${min} min`
  }
  const hours = Math.round(s / 3600)
  const d = Math.floor(hours / 24)
  const h = hours % 24
  return h === 0 ? `${d} d` : `${d} d ${h} h`
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}
