/**
 * `npm run bench -- --tables 8 --rows 200000 [--threads N] [--methods manual,pipe,mydumper,datain,limit] [--repeat R]`
 * `npm run bench -- --curve [--rows 5] [--points 500,1000,2000,5000]`
 *
 * Times the snapshot against the ways people copy a database by hand, in one run, on the same
 * data and the same servers: a fresh sandbox whose source holds `tables` sysbench-like tables of
 * `rows` rows each, copied into the emulated Azure replica through its gateway, with TLS:
 *
 * - manual:   the documented path, `mariadb-dump --single-transaction` to a file, then `mariadb < file`
 * - pipe:     `mariadb-dump --single-transaction | mariadb`
 * - mydumper: `mydumper` to a folder, then `myloader`, both with `--threads N`
 * - datain:   `datain init` then `datain start --parallel N` (the built CLI in its own process); its
 *             time is the whole `datain start` (every step, the process's start-up too; the steps'
 *             seconds in its note), its memory the peak RSS (VmHWM) of that process
 * - limit:    the replica's server alone: the same rows as local files loaded with `LOAD DATA INFILE`
 *             by N root sessions on its socket, NOT through the gateway (scripts/bench/limit.ts);
 *             datain's copy rate is printed as a % of it
 *
 * After each, the replica is checked identical to the source (row counts and CHECKSUM TABLE),
 * then the copy is dropped (and, after datain, its replication link, user and firewall rules).
 * Each row also gives the CPU seconds the source's server, the replica's, the tool and the gateway
 * (this process) spent: on a machine where they all share the cores, they explain the seconds.
 *
 * `--curve` times the whole `datain start` for each number of tables in `--points`, refilling the
 * same sandbox's source, and prints ms per table (scripts/bench/curve.ts).
 *
 * `--pin-replica` gives the replica's server cores of its own (scripts/bench/pin.ts).
 *
 * `BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'` passes options to the node running
 * `datain start` (a CPU profile, `--trace-gc`…).
 * It prints figures; it is not a test. Figures depend on what else the machine does: it prints the
 * load average before and after, so run it when the machine is quiet.
 */
import {mkdtemp, rm} from 'node:fs/promises'
import {availableParallelism, loadavg, tmpdir} from 'node:os'
import path from 'node:path'
import {type Sandbox, startSandbox} from '../sandbox/sandbox.js'
import {benchVerify} from './bench-verify.js'
import {runCurve} from './bench/curve.js'
import {cleanUp, cpuSeconds, DATABASE, fill, sourceMegabytes, tableState} from './bench/data.js'
import {buildDatain, runDatain} from './bench/datain.js'
import {prepareLimit, runLimit} from './bench/limit.js'
import {pinReplica} from './bench/pin.js'
import {type ToolContext, runManual, runMydumper, runPipe, writeOptionsFiles} from './bench/methods.js'
import {type BenchOptions, BenchUsageError, type Method, parseBenchArgs, USAGE} from './bench/options.js'
import {type Measured, printTable, type Row} from './bench/report.js'

let options: BenchOptions
try {
  options = parseBenchArgs(process.argv.slice(2))
} catch (error) {
  if (!(error instanceof BenchUsageError)) throw error
  console.error(`bench: ${error.message} (npm run bench -- --help)`)
  process.exit(2)
}
const {tables, rows, threads, methods, repeat} = options

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ')

async function main(): Promise<void> {
  if (options.help) return console.log(USAGE)
  if (options.verify) return benchVerify({tables, rows, threads: options.threadsGiven ? threads : undefined, repeat})
  console.log(
    options.curve
      ? `datain bench --curve: ${options.curve.join(', ')} tables × ${rows} rows, ${threads} threads`
      : `datain bench: ${tables} tables × ${rows.toLocaleString('en-US')} rows, ${threads} threads, methods ${methods.join(', ')}, ${repeat} round(s)`,
  )
  console.log(`machine: ${availableParallelism()} cores, load average ${load()} (figures are only comparable on a quiet machine)`)
  if (methods.includes('datain')) await buildDatain()
  const sandbox = await startSandbox({sampleRows: 0})
  const work = await mkdtemp(path.join(tmpdir(), 'datain-bench-'))
  try {
    if (options.pinReplica) console.log(`pinned: ${await pinReplica(sandbox)}`)
    // Let this machine through the emulated gateway, as a firewall rule made by someone else would.
    sandbox.azure.state.firewallRules.set('bench-loopback', {name: 'bench-loopback', startIpAddress: '127.0.0.1', endIpAddress: '127.0.0.1'})
    if (options.curve) return await runCurve(sandbox, work, {points: options.curve, rows, threads})
    await compare(sandbox, work)
  } finally {
    await sandbox.stop()
    await rm(work, {recursive: true, force: true})
    console.log(`load average after: ${load()}`)
  }
}

/** Every method, `repeat` rounds, on one filled source; then the table and the ratios. */
async function compare(sandbox: Sandbox, work: string): Promise<void> {
  const filled = Date.now()
  await fill(sandbox.source.server, tables, rows)
  const megabytes = await sourceMegabytes(sandbox.source.server)
  const totalRows = tables * rows
  console.log(`source filled in ${((Date.now() - filled) / 1000).toFixed(1)} s: ${totalRows.toLocaleString('en-US')} rows, ${megabytes.toFixed(0)} MB of InnoDB data and indexes (the MB of MB/s)`)
  const expected = await tableState(sandbox.source.server, tables)
  const tools: ToolContext = {sandbox, work, optionsFile: await writeOptionsFiles(work, sandbox), threads}
  const results: Row[] = []
  for (let round = 1; round <= repeat; round++) {
    for (const method of methods) {
      await sandbox.replica.server.execute([`DROP DATABASE IF EXISTS ${DATABASE}`])
      const label = repeat > 1 ? `${method} #${round}` : method
      process.stdout.write(`${label}… `)
      let row: Row
      try {
        // The limit's files and tables are made before its clock and its CPU count start.
        const limitFiles = method === 'limit' ? await prepareLimit(sandbox, tables) : undefined
        const before = await cpuSeconds(sandbox)
        row = {method: label, ...(await run(method, tools, limitFiles))}
        const after = await cpuSeconds(sandbox)
        row.cpu = {source: after.source - before.source, replica: after.replica - before.replica, tool: after.tool - before.tool, gateway: after.gateway - before.gateway}
        if (row.seconds !== undefined) row.identical = JSON.stringify(await tableState(sandbox.replica.server, tables)) === JSON.stringify(expected)
      } catch (error) {
        row = {method: label, note: `failed: ${String((error as Error)?.message ?? error).split('\n').slice(0, 3).join(' ')}`}
      }
      console.log(row.seconds === undefined ? row.note : `${row.seconds.toFixed(1)} s${row.identical ? ', identical' : ', NOT IDENTICAL'}`)
      results.push(row)
      await cleanUp(sandbox)
    }
  }
  printTable(results, {rows: totalRows, megabytes, threads})
}

async function run(method: Method, tools: ToolContext, limitFiles: Awaited<ReturnType<typeof prepareLimit>> | undefined): Promise<Measured> {
  switch (method) {
    case 'manual':
      return runManual(tools)
    case 'pipe':
      return runPipe(tools)
    case 'mydumper':
      return runMydumper(tools)
    case 'datain':
      return runDatain(tools.sandbox, tools.work, threads)
    case 'limit':
      return runLimit(tools.sandbox, limitFiles!, threads)
  }
}

await main()
