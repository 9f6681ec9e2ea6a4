import {formatDuration, plural} from '../lib/format.js'
import {terminalLine} from './terminal-text.js'
import type {VerifyProgress, VerifyResult} from '../verify/result.js'

/** Rows shown per table in the human output; --json lists them all. */
const SHOWN_PER_TABLE = 5

/**
 * The human result. Table names and key values come from the servers: control characters are
 * escaped so that they cannot move the cursor or recolour the terminal, and a line feed as `\x0a` (one line a table).
 */
export function renderVerify(result: VerifyResult): string {
  // "1 table", "1 row": one plural everywhere (it once read "1 warnings").
  // A table CHECKSUM TABLE found equal was not counted row by row: its rows are InnoDB's estimate.
  const rows = `${result.tables.some((t) => t.rowsEstimated) ? 'about ' : ''}${plural(result.rowsCompared, 'row')}`
  if (result.identical) return `Identical: ${plural(result.tablesCompared, 'table')}, ${rows} compared in ${formatDuration(result.seconds)}.`
  const lines: string[] = []
  const differing = result.tables.filter((t) => t.differencesTotal > 0 || t.missingOnReplica || t.columnsDiffer)
  lines.push(`Differences: ${plural(result.differencesTotal, 'row')} in ${differing.length} of ${plural(result.tablesCompared, 'table')} (${rows} compared in ${formatDuration(result.seconds)}).`)
  for (const table of differing) {
    if (table.missingOnReplica) {
      lines.push(`  ${terminalLine(table.table)}: missing on the replica`)
      continue
    }
    if (table.columnsDiffer) {
      lines.push(`  ${terminalLine(table.table)}: the replica's table lacks columns the source's has`)
      continue
    }
    const keys = table.differences.slice(0, SHOWN_PER_TABLE).map(renderKey)
    const more = table.differencesTotal - keys.length
    lines.push(`  ${terminalLine(table.table)}: ${table.differencesTotal === 1 ? "1 row differs" : `${table.differencesTotal} rows differ`}: ${keys.join('; ')}${more > 0 ? `; and ${more} more` : ''}`)
  }
  lines.push('Run again with --json for the primary key of every row that differs.')
  return lines.join('\n')
}

function renderKey(key: Record<string, unknown>): string {
  const parts = Object.entries(key).map(([name, value]) => `${terminalLine(name)}=${terminalLine(String(value))}`)
  return parts.length > 0 ? parts.join(', ') : '(table has no primary key)'
}

/**
 * The progress line on a terminal's stderr, redrawn at most twice a second; none when stderr is not
 * a terminal or under --json. `clear` wipes it before the result is printed.
 */
export function progressLine(o: {quiet: boolean}): {update(p: VerifyProgress): void; clear(): void} | undefined {
  if (!process.stderr.isTTY || o.quiet) return undefined
  let last = 0
  return {
    update(p) {
      if (Date.now() - last < 500 && p.tablesDone < p.tablesTotal) return
      last = Date.now()
      process.stderr.write(`\r\u001b[2K${renderProgress(p)}`)
    },
    clear() {
      process.stderr.write('\r\u001b[2K')
    },
  }
}

/** One progress line: tables, rows, rate, ETA. */
export function renderProgress(p: VerifyProgress): string {
  const eta = p.etaSeconds === null ? '' : `, ETA ${formatDuration(p.etaSeconds)}`
  return (
    `verify: ${p.tablesDone}/${p.tablesTotal} tables, ${p.rowsDone.toLocaleString('en-US')}/~${p.rowsTotal.toLocaleString('en-US')} rows, ` +
    `${p.rowsPerSecond.toLocaleString('en-US')} rows/s${eta}`
  )
}
