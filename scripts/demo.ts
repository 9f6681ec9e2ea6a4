/**
 * `npm run demo`: a newcomer's first look, in about 80 lines. Starts the local sandbox (a source
 * MariaDB, an emulated Azure replica behind its gateway, an emulated ARM endpoint) and shows what
 * datain is for: init, a start interrupted in the middle of the copy, status during and after,
 * the resume, a write arriving on the replica, then a cutover and the cleanup.
 * `npm run demo -- --target mariadb` does the same against a plain MariaDB replica.
 */
import {execa, type ResultPromise} from 'execa'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {mariadbBinary} from '../sandbox/mariadb-server.js'
import {type AnySandbox, type SandboxTarget, startSandbox} from '../sandbox/sandbox.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
/** Orders in the sample: enough that the copy takes a moment, little enough to load in seconds. */
const SAMPLE_ROWS = 100_000
/** The demo's promise to a newcomer: it fits on a screen or two. */
const LINE_BUDGET = 80
/** Lines of start's left out: its preflight report (init showed the checks), and the copy's progress line, which a log gets every 10 s. */
const CHECK_LINE = /^\s+(PASS|WARN|N\/A|NOT RUN|Copying:) /
/** init's report without the offenders and fixes under each warning, for the demo's length. */
const REPORT_LINE = (line: string) => !/^\s{11}(- |fix: )/.test(line)
const bold = process.stdout.isTTY && !process.env.NO_COLOR ? (t: string) => `\x1b[1m${t}\x1b[22m` : (t: string) => t

let printed = 0
/** Everything the demo shows goes through here, so that it can count its lines. */
function print(text: string): void {
  const body = text.endsWith('\n') ? text : `${text}\n`
  process.stdout.write(body)
  printed += body.split('\n').length - 1
}
const say = (text: string) => print(`${printed > 0 ? '\n' : ''}${bold(`▶ ${text}`)}`)
const indent = (text: string) => text.trimEnd().split('\n').map((l) => (l ? `  ${l}` : l)).join('\n')

async function ensureMariaDb(log: string): Promise<void> {
  const missing = ['mariadbd', 'mariadb-install-db', 'mariadb', 'mariadb-dump'].filter((b) => !mariadbBinary(b))
  if (missing.length === 0) return
  const packages = ['mariadb-server', 'mariadb-client']
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    console.error(`The demo needs MariaDB's server and client binaries (missing: ${missing.join(', ')}).`)
    console.error(`Install ${packages.join(' ')} (Debian/Ubuntu: sudo apt-get install -y ${packages.join(' ')}), then run npm run demo again.`)
    process.exit(1)
  }
  print(`Installing ${packages.join(' and ')} with apt-get (output in ${log})…`)
  const options = {env: {...process.env, DEBIAN_FRONTEND: 'noninteractive'}, stdout: {file: log, append: true}, stderr: {file: log, append: true}} as const
  await execa('apt-get', ['update'], options)
  await execa('apt-get', ['install', '-y', ...packages], options)
}

/** `--target mariadb` (or DATAIN_TARGET): the replica the demo sets up; Azure's emulation by default. */
function demoTarget(): SandboxTarget {
  const at = process.argv.indexOf('--target')
  const value = at >= 0 ? process.argv[at + 1] : process.env.DATAIN_TARGET
  if (value === undefined || value === 'azure-mariadb') return 'azure-mariadb'
  if (value === 'mariadb') return 'mariadb'
  console.error(`--target ${value}: the demo knows azure-mariadb (the default) and mariadb.`)
  process.exit(2)
}

interface Demo {
  target: SandboxTarget
  sandbox: AnySandbox
  home: string
  env: NodeJS.ProcessEnv
}

/** Runs datain as users get it (bin/run.js over dist/), stdout and stderr interleaved as a terminal shows them. */
function datain(demo: Demo, args: string[]): ResultPromise<{all: true; reject: false; stdin: 'ignore'}> {
  return execa(process.execPath, [path.join(root, 'bin', 'run.js'), ...args], {env: demo.env, all: true, reject: false, stdin: 'ignore'})
}

async function show(demo: Demo, args: string[], keep?: (line: string) => boolean): Promise<number> {
  const result = await datain(demo, args)
  const lines = String(result.all).split('\n')
  print(indent((keep ? lines.filter(keep) : lines).join('\n')))
  return result.exitCode ?? -1
}

async function snapshotState(demo: Demo): Promise<string | undefined> {
  const file = path.join(demo.home, 'profiles', 'default', 'checkpoint.json')
  const checkpoint = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as {steps?: {snapshot?: {state?: string}}}
  return checkpoint.steps?.snapshot?.state
}

/** Rows of the sample's biggest table on the replica so far; 0 before the table exists. */
async function replicaOrders(demo: Demo): Promise<number> {
  const rows = await demo.sandbox.replica.server.query<Array<{n: bigint}>>('SELECT COUNT(*) AS n FROM shop.orders').catch(() => [{n: 0n}])
  return Number(rows[0]?.n ?? 0)
}

/** Waits for `what` in bounded steps: never a blind sleep, never forever. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`The demo waited ${timeoutMs / 1000} s for ${what}.`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** `datain start` interrupted in the middle of the copy, with `datain status` from another process while it runs. */
async function interruptedStart(demo: Demo): Promise<void> {
  say('datain start, in the background: preflight, binlog, replication user, firewall, snapshot, link, replicate')
  const start = datain(demo, ['start'])
  // The checks init showed are not shown again.
  let partial = ''
  start.all.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) if (!CHECK_LINE.test(line)) print(indent(line))
  })
  // Paused (SIGSTOP) as soon as rows arrive on the replica, so that the status below is read mid-copy.
  const copying = waitFor('the copy to begin', async () => (await replicaOrders(demo)) > 0)
  const ended = start.then(() => true)
  if (await Promise.race([copying.then(() => false), ended])) throw new Error('datain start ended before the copy began.')
  process.kill(start.pid!, 'SIGSTOP')
  const state = await snapshotState(demo)

  say(`datain status, from another shell, while the copy runs (datain start paused by the demo; snapshot ${state})`)
  await show(demo, ['status'], (line) => /^(\S|\s+[!✔·▶✘] )/.test(line) && !/^(Profile|Setup$|Replication|Next)/.test(line))

  say('Ctrl-C to datain start: it stops at once and records where it was')
  process.kill(start.pid!, 'SIGINT')
  process.kill(start.pid!, 'SIGCONT')
  const result = await start
  print(`  (datain start ended with exit ${result.exitCode}; the snapshot step is ${await snapshotState(demo)})`)
}

/** A row written on the source arrives on the replica through replication. */
async function writeArrives(demo: Demo): Promise<void> {
  say('A row written on the source arrives on the replica through replication')
  const note = `hello from the demo at ${new Date().toISOString()}`
  await demo.sandbox.source.server.query('UPDATE shop.orders SET `delivery note` = ? WHERE id = 1', [note])
  print(`  source : UPDATE shop.orders SET \`delivery note\` = '${note}' WHERE id = 1`)
  let seen: string | undefined
  await waitFor('the write to arrive', async () => {
    const [row] = await demo.sandbox.replica.server.query<Array<{n: string}>>('SELECT `delivery note` AS n FROM shop.orders WHERE id = 1')
    seen = row?.n
    return seen === note
  }, 20_000).catch(() => (process.exitCode = 1))
  print(`  replica: ${seen === note ? `'${seen}'` : 'not arrived within 20 s'}`)
}

async function walkThrough(demo: Demo): Promise<void> {
  if (demo.target === 'mariadb') {
    say("datain init --target mariadb (fixes left out here): records the profile, checks both servers (Azure's checks: not applicable); changes nothing")
    // The replica runs on this machine: the source's CA file is on the replica's host too.
    await show(demo, ['init', '--link-ssl-ca', demo.sandbox.source.sslCa], REPORT_LINE)
  } else {
    say("datain init (fixes left out here): records the profile, checks both servers and Azure, changes nothing; no firewall rule yet, so the replica's checks wait")
    await show(demo, ['init'], REPORT_LINE)
  }

  await interruptedStart(demo)

  say('datain status after the interrupt (its first lines): where the setup stands, and what to run')
  await show(demo, ['status'], (line) => /^(SETUP|\s+! |Next)/.test(line))

  say('datain start again (its main lines): it resumes the interrupted copy and runs until replication runs')
  await show(demo, ['start'], (line) => /^(Resuming|Of the|Copied|Linked|The replica has caught up|Replication is running)/.test(line))

  await writeArrives(demo)

  say('datain status (its first lines): replication live from the replica, threads and true lag')
  await show(demo, ['status'], (line) => /^(HEALTHY|\S.* {2}|\s+(IO|SQL) thread|\s+Lag )/.test(line))

  say('datain stop --cutover: the source made read-only, the replica catches up, the link removed')
  await show(demo, ['stop', '--cutover'], (line) => !/^\s+(\(read_only|Events enabled|The replica's event_scheduler|Catching up)|^(Remove the|Removed the)/.test(line))

  say('datain stop --remove --cleanup: what datain created removed (replication user, firewall rules, parameters)')
  await show(demo, ['stop', '--remove', '--cleanup'], (line) => /^(The link of|Cleanup|\s)/.test(line))
}

async function main(): Promise<void> {
  const target = demoTarget()
  const log = path.join(tmpdir(), 'datain-demo.log')
  await ensureMariaDb(log)
  // The demo runs the CLI as users get it, bin/run.js over dist/: build it from the current sources.
  await execa('npm', ['run', '-s', 'build'], {cwd: root, stdout: {file: log, append: true}, stderr: {file: log, append: true}})

  say(
    target === 'mariadb'
      ? `Starting the sandbox: a source MariaDB with ${SAMPLE_ROWS.toLocaleString('en-US')} orders, and a plain MariaDB replica you administer`
      : `Starting the sandbox: a source MariaDB with ${SAMPLE_ROWS.toLocaleString('en-US')} orders, an emulated Azure replica behind its gateway, an emulated ARM`,
  )
  const sandbox = await startSandbox({target, sampleRows: SAMPLE_ROWS})
  const home = await mkdtemp(path.join(tmpdir(), 'datain-demo-'))
  const demo: Demo = {target, sandbox, home, env: {...process.env, ...sandbox.env(), DATAIN_HOME: home}}
  try {
    await walkThrough(demo)
  } finally {
    await sandbox.stop()
    await rm(home, {recursive: true, force: true})
  }
  const lines = printed + 1
  print(`${lines} lines${lines > LINE_BUDGET ? `, more than the ${LINE_BUDGET} the demo means to take` : ''}; the build's (and any install's) output is in ${log}.`)
}

await main()
