/** The bench's table of figures and the ratios against the targets. */
import type {Cpu} from './data.js'

/** What a method measured; `seconds` is missing when it was skipped or failed (the note says why). */
export interface Measured {
  seconds?: number
  peakRssMb?: number
  note?: string
  /** datain: the snapshot step's seconds, and the copy's own inside it (the `seconds` of its output). */
  snapshotSeconds?: number
  copySeconds?: number
  /** datain: the seconds of its steps but the snapshot, all added. */
  otherStepsSeconds?: number
}

export interface Row extends Measured {
  method: string
  /** CPU seconds spent during the run by the source's server, the replica's, the tool's processes and the gateway. */
  cpu?: Cpu
  identical?: boolean
}

export interface Totals {
  rows: number
  megabytes: number
  threads: number
}

export function printTable(results: Row[], totals: Totals): void {
  const {rows: totalRows, megabytes} = totals
  const lines = [['method', 'seconds', 'rows/s', 'MB/s', 'peak RSS', 'CPU s: source / replica / tool / gateway', 'identical', 'note']]
  for (const r of results) {
    lines.push([
      r.method,
      r.seconds === undefined ? '-' : r.seconds.toFixed(1),
      r.seconds === undefined ? '-' : Math.round(totalRows / r.seconds).toLocaleString('en-US'),
      r.seconds === undefined ? '-' : (megabytes / r.seconds).toFixed(1),
      r.peakRssMb === undefined ? '-' : `${r.peakRssMb.toFixed(0)} MB`,
      r.cpu === undefined ? '-' : `${r.cpu.source.toFixed(1)} / ${r.cpu.replica.toFixed(1)} / ${r.cpu.tool.toFixed(1)} / ${r.cpu.gateway.toFixed(1)}`,
      r.identical === undefined ? '-' : r.identical ? 'yes' : 'NO',
      r.note ?? '',
    ])
  }
  console.log('')
  printMarkdown(lines)
  printRatios(results, totals)
}

/** A Markdown table, columns padded; the last column (the note) left as it is. */
export function printMarkdown(lines: string[][]): void {
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)))
  for (const [i, line] of lines.entries()) {
    console.log(`| ${line.map((cell, j) => (j === line.length - 1 ? cell : cell.padEnd(widths[j]!))).join(' | ')} |`)
    if (i === 0) console.log(`|${widths.map((w, j) => '-'.repeat(j === widths.length - 1 ? 5 : w + 2)).join('|')}|`)
  }
}

/** Best (lowest) of each method's rounds; the targets beside each ratio, never a failure. */
function printRatios(results: Row[], {rows, megabytes, threads}: Totals): void {
  const ok = (r: Row) => r.seconds !== undefined && r.identical !== false
  const of = (m: string) => results.filter((r) => r.method.split(' ')[0] === m && ok(r))
  const best = (m: string, key: 'seconds' | 'snapshotSeconds' | 'copySeconds' = 'seconds') => Math.min(...of(m).map((r) => r[key] ?? Number.NaN).filter(Number.isFinite))
  const datain = best('datain')
  const limit = best('limit')
  console.log('')
  if (Number.isFinite(datain)) {
    const manual = best('manual')
    if (Number.isFinite(manual)) console.log(`datain start / manual (dump to a file, then load): ${(datain / manual).toFixed(2)}  (target ≤ 0.50)`)
    const mydumper = best('mydumper')
    if (Number.isFinite(mydumper)) console.log(`datain start / mydumper + myloader, ${threads} threads: ${(datain / mydumper).toFixed(2)}  (target ≤ 0.75)`)
    const others = ['manual', 'pipe', 'mydumper'].map((m) => best(m)).filter(Number.isFinite)
    if (others.length > 0) console.log(`datain start / best other: ${(datain / Math.min(...others)).toFixed(2)}`)
    const rss = Math.max(...of('datain').map((r) => r.peakRssMb ?? 0))
    console.log(`datain peak RSS: ${rss.toFixed(0)} MB  (target ≤ 128 MB)`)
    const around = of('datain')
      .filter((r) => r.snapshotSeconds !== undefined)
      .sort((a, b) => a.seconds! - a.snapshotSeconds! - (b.seconds! - b.snapshotSeconds!))[0]
    if (around !== undefined) {
      const outside = around.seconds! - around.snapshotSeconds!
      const steps = around.otherStepsSeconds ?? 0
      console.log(`datain start but the snapshot step: ${outside.toFixed(2)} s (the other steps ${steps.toFixed(2)} s, the process's start-up, exit and between steps ${(outside - steps).toFixed(2)} s)  (target ≤ 1.5 s)`)
    }
  }
  if (Number.isFinite(limit)) {
    const rate = (seconds: number) => `${Math.round(rows / seconds).toLocaleString('en-US')} rows/s, ${(megabytes / seconds).toFixed(1)} MB/s`
    console.log(`the replica's limit (LOAD DATA INFILE of local files, ${threads} sessions, its own server only): ${limit.toFixed(1)} s, ${rate(limit)}`)
    const copy = best('datain', 'copySeconds')
    const step = best('datain', 'snapshotSeconds')
    // Same rows and MB on both sides: the rate's ratio is the seconds' inverse ratio.
    if (Number.isFinite(copy)) console.log(`datain's copy (${rate(copy)}) reaches ${((100 * limit) / copy).toFixed(0)} % of the limit  (target ≥ 85 %)`)
    if (Number.isFinite(step)) console.log(`datain's whole snapshot step (${rate(step)}, the tables' creation too): ${((100 * limit) / step).toFixed(0)} % of the limit`)
  }
}
