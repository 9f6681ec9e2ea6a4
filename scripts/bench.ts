/**
 * `npm run bench -- --tables 8 --rows 200000 [--threads N] [--methods manual,pipe,mydumper,datain] [--repeat R]`
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
 *
 * After each, the replica is checked identical to the source (row counts and CHECKSUM TABLE),
 * then the copy is dropped (and, after datain, its replication link, user and firewall rules).
 * Each row also gives the CPU seconds the source's server, the replica's and the tool spent: on a
 * machine where all three share the cores, they explain the seconds.
 *
 * `BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'` passes options to the node running
 * `datain start` (a CPU profile, `--trace-gc`…).
 * It prints figures; it is not a test. Figures depend on what else the machine does: it prints the
 * load average before and after, so run it when the machine is quiet.
 */
import {execa} from 'execa'
import {accessSync, constants} from 'node:fs'
import {mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {availableParallelism, loadavg, tmpdir} from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import type {MariaDbServer} from '../sandbox/mariadb-server.js'
import {type Sandbox, startSandbox} from '../sandbox/sandbox.js'
import {benchmarkStatements} from '../sandbox/sample-data.js'
import {benchVerify} from './bench-verify.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const DATABASE = 'bench'
const METHODS = ['manual', 'pipe', 'mydumper', 'datain'] as const
type Method = (typeof METHODS)[number]

const {values} = parseArgs({
  options: {
    tables: {type: 'string', default: '8'},
    rows: {type: 'string', default: '200000'},
    threads: {type: 'string'},
    methods: {type: 'string', default: METHODS.join(',')},
    repeat: {type: 'string', default: '1'},
    help: {type: 'boolean', short: 'h'},
    verify: {type: 'boolean'},
  },
})
if (values.help) {
  console.log('usage: npm run bench -- [--tables 8] [--rows 200000] [--threads N] [--methods manual,pipe,mydumper,datain] [--repeat 1] [--verify]')
  process.exit(0)
}
const tables = positiveInteger('tables', values.tables!)
const rows = positiveInteger('rows', values.rows!)
const repeat = positiveInteger('repeat', values.repeat!)
// datain's own default on this machine (one thread per core, 2 to 8); the sandbox has connections to spare.
const threads = values.threads === undefined ? Math.min(8, Math.max(2, availableParallelism())) : positiveInteger('threads', values.threads)
const methods = values.methods!.split(',').map((m) => m.trim()) as Method[]
for (const m of methods) if (!METHODS.includes(m)) fail(`unknown method '${m}': choose among ${METHODS.join(', ')}`)

interface Row {
  method: string
  seconds?: number
  peakRssMb?: number
  /** CPU seconds spent during the run by the source's server, the replica's, and the tool's processes. */
  cpu?: {source: number; replica: number; tool: number}
  identical?: boolean
  note?: string
}

// Dump and load options, as the Azure how-to and a careful DBA would write them: consistent, routines and all.
const DUMP = ['--single-transaction', '--master-data=2', '--gtid', '--routines', '--events', '--triggers', '--hex-blob', '--quick', '--default-character-set=utf8mb4', '--max-allowed-packet=1G']
const LOAD = ['--binary-mode', '--batch', '--default-character-set=utf8mb4', '--max-allowed-packet=1G']

async function main(): Promise<void> {
  if (values.verify) return benchVerify({tables, rows, threads, repeat})
  console.log(`datain bench: ${tables} tables × ${rows.toLocaleString('en-US')} rows, ${threads} threads, methods ${methods.join(', ')}, ${repeat} round(s)`)
  console.log(`machine: ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (figures are only comparable on a quiet machine)`)
  if (methods.includes('datain')) {
    console.log('building dist/ (datain runs as users run it: node bin/run.js)…')
    await execa('npm', ['run', '-s', 'build'], {cwd: root, stdio: 'inherit'})
  }
  const sandbox = await startSandbox({sampleRows: 0})
  const work = await mkdtemp(path.join(tmpdir(), 'datain-bench-'))
  try {
    // Let this machine through the emulated gateway, as a firewall rule made by someone else would.
    sandbox.azure.state.firewallRules.set('bench-loopback', {name: 'bench-loopback', startIpAddress: '127.0.0.1', endIpAddress: '127.0.0.1'})
    const filled = Date.now()
    await fill(sandbox.source.server)
    const [size] = await sandbox.source.server.query<Array<{data: bigint; index: bigint}>>(
      "SELECT SUM(DATA_LENGTH) AS data, SUM(INDEX_LENGTH) AS `index` FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
      [DATABASE],
    )
    const megabytes = (Number(size!.data) + Number(size!.index)) / 1024 / 1024
    const totalRows = tables * rows
    console.log(`source filled in ${((Date.now() - filled) / 1000).toFixed(1)} s: ${totalRows.toLocaleString('en-US')} rows, ${megabytes.toFixed(0)} MB of InnoDB data and indexes (the MB of MB/s)`)
    const expected = await tableState(sandbox.source.server)
    const optionsFile = await writeOptionsFiles(work, sandbox)

    const results: Row[] = []
    for (let round = 1; round <= repeat; round++) {
      for (const method of methods) {
        await sandbox.replica.server.execute([`DROP DATABASE IF EXISTS ${DATABASE}`])
        const label = repeat > 1 ? `${method} #${round}` : method
        process.stdout.write(`${label}… `)
        let row: Row
        try {
          const before = await cpuSeconds(sandbox)
          row = {method: label, ...(await run(method, sandbox, work, optionsFile))}
          const after = await cpuSeconds(sandbox)
          row.cpu = {source: after.source - before.source, replica: after.replica - before.replica, tool: after.tool - before.tool}
          if (row.seconds !== undefined) row.identical = JSON.stringify(await tableState(sandbox.replica.server)) === JSON.stringify(expected)
        } catch (error) {
          row = {method: label, note: `failed: ${String((error as Error)?.message ?? error).split('\n').slice(0, 3).join(' ')}`}
        }
        console.log(row.seconds === undefined ? row.note : `${row.seconds.toFixed(1)} s${row.identical ? ', identical' : ', NOT IDENTICAL'}`)
        results.push(row)
        await cleanUp(sandbox)
      }
    }
    printTable(results, totalRows, megabytes)
  } finally {
    await sandbox.stop()
    await rm(work, {recursive: true, force: true})
    console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  }
}

async function run(method: Method, sandbox: Sandbox, work: string, optionsFile: {source: string; replica: string}): Promise<Omit<Row, 'method'>> {
  const source = ['--defaults-extra-file=' + optionsFile.source, ...connection(sandbox.source)]
  const replica = ['--defaults-extra-file=' + optionsFile.replica, ...connection(sandbox.replica)]
  switch (method) {
    case 'manual': {
      const file = path.join(work, 'dump.sql')
      const started = performance.now()
      // Shell redirections, as a person types them (and no byte through Node).
      await execa('bash', ['-c', `${shellLine('mariadb-dump', [...source, ...DUMP, '--databases', DATABASE])} > ${shellLine(file, [])}`], {env: childEnv(work)})
      const dumped = performance.now()
      await execa('bash', ['-c', `${shellLine('mariadb', [...replica, ...LOAD])} < ${shellLine(file, [])}`], {env: childEnv(work)})
      const seconds = (performance.now() - started) / 1000
      const bytes = (await stat(file)).size
      await rm(file)
      return {seconds, note: `dump ${((dumped - started) / 1000).toFixed(1)} s + load ${(seconds - (dumped - started) / 1000).toFixed(1)} s, ${(bytes / 1024 / 1024).toFixed(0)} MB file`}
    }
    case 'pipe': {
      const started = performance.now()
      // A shell pipe, as a person types it: the bytes never pass through Node.
      const command = `${shellLine('mariadb-dump', [...source, ...DUMP, '--databases', DATABASE])} | ${shellLine('mariadb', [...replica, ...LOAD])}`
      await execa('bash', ['-o', 'pipefail', '-c', command], {env: childEnv(work)})
      return {seconds: (performance.now() - started) / 1000}
    }
    case 'mydumper': {
      const missing = ['mydumper', 'myloader'].filter((tool) => !onPath(tool))
      if (missing.length > 0) {
        return {note: `skipped: ${missing.join(' and ')} not installed (Debian/Ubuntu: apt-get install -y mydumper; then run the bench again)`}
      }
      const dir = path.join(work, 'mydumper')
      const tls = (endpoint: Sandbox['source']) => ['--ssl', `--ca=${endpoint.sslCa}`]
      const started = performance.now()
      await execa('mydumper', [
        `--defaults-file=${optionsFile.source}`,
        `--host=${sandbox.source.host}`,
        `--port=${sandbox.source.port}`,
        `--user=${sandbox.source.user}`,
        ...tls(sandbox.source),
        `--threads=${threads}`,
        `--database=${DATABASE}`,
        `--outputdir=${dir}`,
        '--triggers',
        '--events',
        '--routines',
      ], {env: childEnv(work)})
      const dumped = performance.now()
      // --enable-binlog: myloader's default SET SQL_LOG_BIN=0 needs a privilege Azure's admin lacks (and datain's load is logged too).
      await execa('myloader', [
        `--defaults-file=${optionsFile.replica}`,
        `--host=${sandbox.replica.host}`,
        `--port=${sandbox.replica.port}`,
        `--user=${sandbox.replica.user}`,
        ...tls(sandbox.replica),
        `--threads=${threads}`,
        `--directory=${dir}`,
        '--enable-binlog',
      ], {env: childEnv(work)})
      const seconds = (performance.now() - started) / 1000
      await rm(dir, {recursive: true, force: true})
      return {seconds, note: `dump ${((dumped - started) / 1000).toFixed(1)} s + load ${(seconds - (dumped - started) / 1000).toFixed(1)} s, through the gateway with TLS`}
    }
    case 'datain':
      return runDatain(sandbox, work)
  }
}

/** datain init + datain start in a child process of its own; the snapshot step's seconds and the process's peak RSS. */
async function runDatain(sandbox: Sandbox, work: string): Promise<Omit<Row, 'method'>> {
  const home = await mkdtemp(path.join(work, 'home-'))
  const env = {PATH: process.env.PATH, HOME: process.env.HOME, ...sandbox.env(), DATAIN_HOME: home}
  const cli = path.join(root, 'bin', 'run.js')
  const init = await execa(process.execPath, [cli, 'init', '--databases', DATABASE], {env, extendEnv: false, reject: false})
  if (init.exitCode !== 0) throw new Error(`datain init exited ${init.exitCode}: ${init.stderr || init.stdout}`)
  const startedAt = performance.now()
  const child = execa(process.execPath, [...(process.env.BENCH_NODE_ARGS?.split(' ') ?? []), cli, 'start', '--json', '--parallel', String(threads)], {env, extendEnv: false, reject: false})
  let peakKb = 0
  const sample = async () => {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '')
    const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0)
    if (kb > peakKb) peakKb = kb
  }
  const sampling = (async () => {
    while (child.exitCode === null && child.signalCode === null) {
      await sample()
      await sleep(100)
    }
  })()
  const result = await child
  const wholeSeconds = (performance.now() - startedAt) / 1000
  await sampling
  if (result.exitCode !== 0) throw new Error(`datain start exited ${result.exitCode}: ${result.stderr.split('\n').slice(-5).join(' ')}`)
  // start --json streams its events first, one a line: the result is the last line.
  const report = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as {steps: Array<{id: string; seconds?: number; output?: Record<string, unknown>}>}
  const snapshot = report.steps.find((s) => s.id === 'snapshot')
  const output = snapshot?.output ?? {}
  const held = `commits held ${String(output.writesHeldMs)} ms (${String(output.snapshotMethod)})`
  const steps = report.steps.filter((s) => s.seconds !== undefined && s.seconds >= 0.05).map((s) => `${s.id} ${s.seconds!.toFixed(1)}`)
  return {
    seconds: wholeSeconds,
    peakRssMb: peakKb / 1024,
    note:
      `whole datain start --parallel ${threads} (steps, s: ${steps.join(', ')}; the copy ${Number(output.seconds).toFixed(1)} s of the snapshot step ${snapshot?.seconds?.toFixed(1)} s): ` +
      `${String(output.threads)} threads, ${held}; peak RSS of the datain process (VmHWM)`,
  }
}

/**
 * CPU seconds (user + system) so far of the two servers, and of this process's finished children:
 * the tools (mariadb-dump, mariadb, mydumper, myloader, datain), which have all been waited for when
 * a method ends. Where the cores went explains a ratio better than the seconds alone.
 */
async function cpuSeconds(sandbox: Sandbox): Promise<{source: number; replica: number; tool: number}> {
  const ticks = 100 // USER_HZ on Linux
  const fields = async (pid: number | 'self') => (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ').map(Number)
  // After "pid (comm) ": state is field 0, so utime, stime, cutime, cstime are 11, 12, 13, 14.
  const own = async (pid: number) => {
    const f = await fields(pid)
    return (f[11]! + f[12]!) / ticks
  }
  const self = await fields('self')
  return {source: await own(sandbox.source.server.pid), replica: await own(sandbox.replica.server.pid), tool: (self[13]! + self[14]!) / ticks}
}

/** Stops what a datain run left linked and created, so that the next method starts from the same place. */
async function cleanUp(sandbox: Sandbox): Promise<void> {
  await sandbox.replica.server.execute(['STOP ALL SLAVES', 'RESET SLAVE ALL', `DROP DATABASE IF EXISTS ${DATABASE}`]).catch(() => {})
  await sandbox.source.server.execute(["DROP USER IF EXISTS 'datain_repl'@'%'"])
  for (const name of [...sandbox.azure.state.firewallRules.keys()]) if (name !== 'bench-loopback') sandbox.azure.state.firewallRules.delete(name)
}

/**
 * The benchmark's tables on the source: each table's statements in order, four tables at a time
 * (thousands of small tables one after the other took minutes), then ANALYZE for the estimates.
 */
async function fill(server: MariaDbServer): Promise<void> {
  const [drop, create, ...perTable] = benchmarkStatements({tables, rows, database: DATABASE})
  await server.execute([drop!, create!])
  const groups: string[][] = []
  for (const sql of perTable) {
    if (sql.startsWith('CREATE TABLE') || groups.length === 0) groups.push([])
    groups.at(-1)!.push(sql)
  }
  await Promise.all(
    Array.from({length: 4}, async () => {
      const conn = await server.connectAsRoot()
      try {
        for (let group = groups.shift(); group; group = groups.shift()) for (const sql of group) await conn.query(sql)
      } finally {
        await conn.end()
      }
    }),
  )
  const names = tableNames()
  for (let i = 0; i < names.length; i += 1000) await server.execute([`ANALYZE TABLE ${names.slice(i, i + 1000).join(', ')}`])
}

function tableNames(): string[] {
  return Array.from({length: tables}, (_, i) => `\`${DATABASE}\`.\`sbtest${i + 1}\``)
}

/** Row count and CHECKSUM TABLE of every table of the benchmark. */
async function tableState(server: MariaDbServer): Promise<Record<string, [number, string]>> {
  const state: Record<string, [number, string]> = {}
  for (const table of tableNames()) {
    const [count] = await server.query<Array<{n: bigint}>>(`SELECT COUNT(*) AS n FROM ${table}`).catch(() => [{n: -1n}])
    const [sum] = await server.query<Array<{Checksum: bigint | null}>>(`CHECKSUM TABLE ${table}`).catch(() => [{Checksum: null}])
    state[table] = [Number(count!.n), String(sum!.Checksum)]
  }
  return state
}

function printTable(results: Row[], totalRows: number, megabytes: number): void {
  const lines = [['method', 'seconds', 'rows/s', 'MB/s', 'peak RSS', 'CPU s: source / replica / tool', 'identical', 'note']]
  for (const r of results) {
    lines.push([
      r.method,
      r.seconds === undefined ? '-' : r.seconds.toFixed(1),
      r.seconds === undefined ? '-' : Math.round(totalRows / r.seconds).toLocaleString('en-US'),
      r.seconds === undefined ? '-' : (megabytes / r.seconds).toFixed(1),
      r.peakRssMb === undefined ? '-' : `${r.peakRssMb.toFixed(0)} MB`,
      r.cpu === undefined ? '-' : `${r.cpu.source.toFixed(1)} / ${r.cpu.replica.toFixed(1)} / ${r.cpu.tool.toFixed(1)}`,
      r.identical === undefined ? '-' : r.identical ? 'yes' : 'NO',
      r.note ?? '',
    ])
  }
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)))
  console.log('')
  for (const [i, line] of lines.entries()) {
    console.log(`| ${line.map((cell, j) => (j === line.length - 1 ? cell : cell.padEnd(widths[j]!))).join(' | ')} |`)
    if (i === 0) console.log(`|${widths.map((w, j) => '-'.repeat(j === widths.length - 1 ? 5 : w + 2)).join('|')}|`)
  }
  const best = (m: string) => Math.min(...results.filter((r) => r.method.split(' ')[0] === m && r.seconds !== undefined).map((r) => r.seconds!))
  const datain = best('datain')
  if (!Number.isFinite(datain)) return
  console.log('')
  const manual = best('manual')
  if (Number.isFinite(manual)) console.log(`datain / manual (dump to a file, then load): ${(datain / manual).toFixed(2)}  (target ≤ 0.60)`)
  const mydumper = best('mydumper')
  if (Number.isFinite(mydumper)) console.log(`datain / mydumper + myloader, ${threads} threads: ${(datain / mydumper).toFixed(2)}  (target ≤ 0.90)`)
  const others = ['manual', 'pipe', 'mydumper'].map(best).filter(Number.isFinite)
  if (others.length > 0) console.log(`datain / best other: ${(datain / Math.min(...others)).toFixed(2)}`)
  const rss = Math.max(...results.filter((r) => r.peakRssMb !== undefined).map((r) => r.peakRssMb!))
  console.log(`datain peak RSS: ${rss.toFixed(0)} MB  (target ≤ 150 MB, and ≤ 1.2 × that at 4 × the data: compare with --rows ${rows * 4} --methods datain)`)
}

/** Host, port, user and TLS on the command line; the password only in the options file. */
function connection(endpoint: Sandbox['source']): string[] {
  return [`--host=${endpoint.host}`, `--port=${endpoint.port}`, `--user=${endpoint.user}`, '--protocol=TCP', '--ssl', `--ssl-ca=${endpoint.sslCa}`, '--ssl-verify-server-cert']
}

/** Private options files with the passwords (mode 0600): [client] for MariaDB's tools, [mydumper]/[myloader] for those. */
async function writeOptionsFiles(work: string, sandbox: Sandbox): Promise<{source: string; replica: string}> {
  const quote = (value: string) => `"${value.replace(/[\\"']/g, (c) => `\\${c}`)}"`
  const write = async (name: string, endpoint: Sandbox['source']) => {
    const file = path.join(work, `${name}.cnf`)
    const lines = ['client', 'mydumper', 'myloader'].flatMap((group) => [`[${group}]`, `user=${endpoint.user}`, `password=${quote(endpoint.password)}`])
    await writeFile(file, `${lines.join('\n')}\n`, {mode: 0o600})
    return file
  }
  return {source: await write('source', sandbox.source), replica: await write('replica', sandbox.replica)}
}

/** The children's environment: no ~/.my.cnf of the person running the bench. */
function childEnv(work: string): Record<string, string | undefined> {
  return {...process.env, HOME: work, MYSQL_PWD: undefined}
}

function shellLine(tool: string, args: string[]): string {
  return [tool, ...args].map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(' ')
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, tool), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

function positiveInteger(name: string, text: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1) fail(`--${name} takes a whole number of at least 1, not '${text}'`)
  return n
}

function fail(message: string): never {
  console.error(message)
  process.exit(2)
}

await main()
