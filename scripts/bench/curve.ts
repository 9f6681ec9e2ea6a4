/**
 * `--curve`: datain's time per table as the number of tables grows. For each point the same
 * sandbox's source is refilled with that many tables of `rows` rows, the replica emptied, and a
 * whole `datain init` + `datain start` timed; the replica is checked identical after each. Then
 * mydumper + myloader copy the same tables (when installed): how their time per table grows shows
 * what of the curve is the servers' (each CREATE TABLE makes and syncs files) and what is datain's.
 */
import type {Sandbox} from '../../sandbox/sandbox.js'
import {cleanUp, cpuSeconds, fill, sourceMegabytes, tableState} from './data.js'
import {runDatain} from './datain.js'
import {runMydumper, writeOptionsFiles} from './methods.js'
import {printMarkdown} from './report.js'

interface Point {
  tables: number
  seconds?: number
  snapshotSeconds?: number
  peakRssMb?: number
  datainCpu?: number
  identical?: boolean
  /** mydumper + myloader's seconds for the same tables (undefined: not installed, or failed). */
  mydumper?: number
  note?: string
}

export async function runCurve(sandbox: Sandbox, work: string, options: {points: number[]; rows: number; threads: number}): Promise<void> {
  const points: Point[] = []
  const optionsFile = await writeOptionsFiles(work, sandbox)
  for (const tables of options.points) {
    const filled = Date.now()
    await fill(sandbox.source.server, tables, options.rows)
    const megabytes = await sourceMegabytes(sandbox.source.server)
    process.stdout.write(`${tables} tables (${megabytes.toFixed(0)} MB, filled in ${((Date.now() - filled) / 1000).toFixed(0)} s): datain… `)
    await cleanUp(sandbox)
    const point: Point = {tables}
    try {
      const before = await cpuSeconds(sandbox)
      Object.assign(point, await runDatain(sandbox, work, options.threads))
      point.datainCpu = (await cpuSeconds(sandbox)).tool - before.tool
      point.identical = JSON.stringify(await tableState(sandbox.replica.server, tables)) === JSON.stringify(await tableState(sandbox.source.server, tables))
      console.log(`${point.seconds!.toFixed(1)} s${point.identical ? ', identical' : ', NOT IDENTICAL'}`)
    } catch (error) {
      point.note = `failed: ${String((error as Error)?.message ?? error).split('\n').slice(0, 3).join(' ')}`
      console.log(point.note)
    }
    await cleanUp(sandbox)
    const mydumper = await runMydumper({sandbox, work, optionsFile, threads: options.threads}).catch((error: unknown) => ({seconds: undefined, note: String(error)}))
    point.mydumper = mydumper.seconds
    console.log(`  mydumper + myloader: ${mydumper.seconds === undefined ? (mydumper.note ?? 'no figure') : `${mydumper.seconds.toFixed(1)} s`}`)
    points.push(point)
    await cleanUp(sandbox)
  }
  printCurve(points, options.rows)
}

function printCurve(points: Point[], rows: number): void {
  const ms = (seconds: number | undefined, tables: number) => (seconds === undefined ? undefined : (seconds * 1000) / tables)
  const cell = (n: number | undefined, digits = 1) => (n === undefined ? '-' : n.toFixed(digits))
  const lines = [['tables', 'datain start s', 'snapshot step s', 'ms/table (start)', 'ms/table (snapshot)', 'mydumper s', 'ms/table (mydumper)', 'peak RSS', 'datain CPU s', 'identical', 'note']]
  for (const p of points) {
    lines.push([
      String(p.tables),
      cell(p.seconds),
      cell(p.snapshotSeconds),
      cell(ms(p.seconds, p.tables), 2),
      cell(ms(p.snapshotSeconds, p.tables), 2),
      cell(p.mydumper),
      cell(ms(p.mydumper, p.tables), 2),
      p.peakRssMb === undefined ? '-' : `${p.peakRssMb.toFixed(0)} MB`,
      cell(p.datainCpu),
      p.identical === undefined ? '-' : p.identical ? 'yes' : 'NO',
      p.note ?? '',
    ])
  }
  console.log('')
  console.log(`the curve: tables of ${rows} rows, each point a fresh copy (whole datain start, init not counted)`)
  printMarkdown(lines)
  const measured = points.filter((p) => p.seconds !== undefined && p.snapshotSeconds !== undefined)
  if (measured.length < 2) return
  const [first, last] = [measured[0]!, measured.at(-1)!]
  const ratio = (key: 'seconds' | 'snapshotSeconds' | 'mydumper') =>
    first[key] === undefined || last[key] === undefined ? '-' : (ms(last[key], last.tables)! / ms(first[key], first.tables)!).toFixed(2)
  console.log('')
  console.log(
    `ms per table at ${last.tables} tables / at ${first.tables}: whole start ${ratio('seconds')}, snapshot step ${ratio('snapshotSeconds')}, ` +
      `mydumper + myloader ${ratio('mydumper')}  ("flat" is about 1.0)`,
  )
}
