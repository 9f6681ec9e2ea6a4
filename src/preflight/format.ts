import {quoteIdentifier} from '../lib/sql.js'

// How checks word what they found: counts, lists, sizes and durations in messages.

/** `1 table`, `2 tables`; `many` for irregular plurals. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

/** `a, b and c`: offender lists in messages read as a sentence; past `limit` items, `and N more`. */
export function listText(items: readonly string[], limit = 10): string {
  const shown = items.slice(0, limit)
  const rest = items.length - shown.length
  const head = rest > 0 ? [...shown, `${rest} more`] : shown
  if (head.length <= 1) return head.join('')
  return `${head.slice(0, -1).join(', ')} and ${head.at(-1)}`
}

/** `the database shop`, `the databases a and b`: every database a check looked at, named, for its message. */
export function databasesText(databases: readonly string[]): string {
  if (databases.length === 0) return 'no database (the source holds no user database)'
  return `the ${databases.length === 1 ? 'database' : 'databases'} ${listText(databases)}`
}

/** `database \`shop\``, `databases \`a\`, \`b\``, `12 databases`: the selection in a message, named when few, counted when many. */
export function describeDatabases(databases: readonly string[]): string {
  if (databases.length === 0) return 'no database'
  if (databases.length <= 3) return `${databases.length === 1 ? 'database' : 'databases'} ${databases.map(quoteIdentifier).join(', ')}`
  return plural(databases.length, 'database')
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
