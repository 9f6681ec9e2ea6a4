import stringWidth from 'string-width'
import {quoteIdentifier} from './sql.js'

// How datain words numbers for people, in every command and renderer: one unit system for sizes
// (SI, as the rates in MB/s and the copy estimate of 20 MB/s are), one way to say a duration, one
// plural. A size or a duration that is not a finite number is said to be unknown, never "NaN".

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB']

/** `999 B`, `1.0 kB`, `112.8 kB`, `1.2 MB`, `20.0 GB`: decimal units (1 kB = 1000 B). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'unknown size'
  if (bytes < 0) return `-${formatBytes(-bytes)}`
  if (Math.round(bytes) < 1000) return `${Math.round(bytes)} B`
  let unit = 1
  let value = bytes / 1000
  // Choose the unit after rounding: 999.96 kB is shown as 1.0 MB, never as 1000.0 kB.
  while (unit < BYTE_UNITS.length - 1 && Math.round(value * 10) / 10 >= 1000) {
    value /= 1000
    unit++
  }
  // toFixed writes 1e21 and above with an exponent.
  const text = value < 1e21 ? value.toFixed(1) : value.toLocaleString('en-US', {minimumFractionDigits: 1, maximumFractionDigits: 1})
  return `${text} ${BYTE_UNITS[unit]}`
}

/** `12 ms`, `0.4 s`, `12 s`, `3 min`, `1 h 5 min`, `2 d 3 h`: a decimal below ten seconds, then ever coarser. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'unknown time'
  if (seconds < 0) return `-${formatDuration(-seconds)}`
  if (seconds === 0) return '0 s'
  // Milliseconds below a tenth of a second: a step that took 12 ms never reads "done in 0.0 s".
  if (seconds < 0.095) return `${Math.round(seconds * 1000)} ms`
  // Below 9.95 s one decimal; from there whole seconds, so that 9.96 never reads "10.0 s".
  if (seconds < 9.95) return `${seconds.toFixed(1)} s`
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  const minutes = Math.round(s / 60)
  if (minutes < 24 * 60) {
    const h = Math.floor(minutes / 60)
    const min = minutes % 60
    return h === 0 ? `${min} min` : min === 0 ? `${h} h` : `${h} h ${min} min`
  }
  const hours = Math.round(s / 3600)
  const d = Math.floor(hours / 24).toLocaleString('en-US')
  const h = hours % 24
  return h === 0 ? `${d} d` : `${d} d ${h} h`
}

/** `0.5/s`, `12/s`, `1,250/s`: a rate with as many decimals as its size deserves (the caller adds the unit). */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '?'
  if (perSecond === 0) return '0'
  if (Math.abs(perSecond) < 9.95) return perSecond.toFixed(1)
  return Math.round(perSecond).toLocaleString('en-US')
}

/** A timestamp for people, in local time: `14:03:07` today, `2025-03-01 14:03` another day. */
export function formatTime(iso: string, now: Date = new Date()): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const two = (n: number) => String(n).padStart(2, '0')
  const day = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`
  const today = `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}`
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
  return day === today ? time : `${day} ${time.slice(0, 5)}`
}

/** `1 table`, `0 tables`, `1,250 transactions`; `many` for irregular plurals. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`
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

// Widths as a terminal shows them. A CJK character or an emoji takes two columns, a combining
// accent or a zero-width space none: `.length` counts UTF-16 units and misaligns a table as soon as
// a database or table name holds one. string-width (the one @oclif/core uses) measures them, emoji
// sequences as one; default-ignorable characters (U+200B, U+00AD, U+2060, tag and variation
// selectors…) count as none, as terminals draw them, but for the joiner and VS16 that emoji need.
// Measured code point by code point, not capped per grapheme, so that a cell's width plus the
// padding's is the line's: a cell that starts with a combining character joins the space before it.

// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;?]*[A-Za-z]/g
const IGNORABLE = /(?!\u200d|\ufe0f)\p{Default_Ignorable_Code_Point}/gu
const graphemes = new Intl.Segmenter('en', {granularity: 'grapheme'})

/** The columns `text` takes on a terminal; colour escape codes take none. */
export function displayWidth(text: string): number {
  return stringWidth(text.replace(SGR, '').replace(IGNORABLE, ''))
}

/** `text` padded with spaces to `width` columns (as {@link displayWidth} counts them); longer text as it is. */
export function padDisplay(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)))
}

/**
 * `text` cut to at most `width` columns, whole graphemes only, ending in `…` when cut. For plain
 * text: colour escape codes would be cut through.
 */
export function truncateDisplay(text: string, width: number): string {
  if (displayWidth(text) <= width) return text
  if (width <= 0) return ''
  let out = ''
  for (const {segment} of graphemes.segment(text)) {
    if (displayWidth(out + segment) > width - 1) break
    out += segment
  }
  return `${out}…`
}
