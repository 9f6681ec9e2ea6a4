import {formatBytes, formatDuration, formatTime, listText} from '../lib/format.js'
import type {SnapshotProgress} from '../state/progress.js'

/**
 * The copy's progress in one line, as `datain status` shows it under the snapshot step:
 * `Copying: 3 of 12 tables, 45,000 of ~60,000 rows (75%), 12.3 MB, 11,000 rows/s, ETA 2 min;
 * in flight: shop.orders, shop.items (as of 14:03:22, 1 s ago)`. A run that is gone (`live`
 * false) shows how far it got, and when. Names come from the source: the caller makes the
 * line safe for a terminal (renderStatus does).
 */
export function copyProgressLine(p: SnapshotProgress, options: {live: boolean; now: Date}): string {
  const parts = [`${p.tablesDone.toLocaleString('en-US')} of ${p.tablesTotal.toLocaleString('en-US')} tables`]
  const rows = p.rowsDone.toLocaleString('en-US')
  if (p.rowsTotal > 0) {
    // The total is InnoDB's estimate: never claim 100% before the last table is done.
    const complete = p.tablesTotal > 0 && p.tablesDone >= p.tablesTotal
    const percent = complete ? 100 : Math.min(99, Math.floor((p.rowsDone / p.rowsTotal) * 100))
    parts.push(`${rows} of ~${p.rowsTotal.toLocaleString('en-US')} rows (${percent}%)`)
  } else {
    parts.push(`${rows} rows`)
  }
  parts.push(formatBytes(p.bytesDone))
  if (options.live) {
    parts.push(`${p.rowsPerSecond.toLocaleString('en-US')} rows/s`)
    if (p.etaSeconds !== null) parts.push(`ETA ${formatDuration(p.etaSeconds)}`)
  }
  const inFlight = p.inFlight.length > 0 ? `; ${options.live ? 'in flight' : 'was copying'}: ${listText(p.inFlight, 3)}` : ''
  const age = Math.max(0, (options.now.getTime() - Date.parse(p.updatedAt)) / 1000)
  const when = `${formatTime(p.updatedAt, options.now)}, ${formatDuration(age)} ago`
  return options.live ? `Copying: ${parts.join(', ')}${inFlight} (as of ${when})` : `Copy stopped at: ${parts.join(', ')}${inFlight} (last progress ${when})`
}
