import {type ResultPromise, execa} from 'execa'
import {mkdtemp, readdir, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type AnySandbox, type AnySandboxOptions, type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {type CliResult, datain} from '../helpers/datain.js'
import {sandboxSecrets, TARGETS, targetEnv} from '../helpers/targets.js'
import {tableFingerprints} from '../helpers/write-load.js'

/**
 * `datain start` when things go wrong half-way, against the real sandbox: SIGTERM/SIGINT in the
 * middle of the copy and of the catch-up wait, Azure Resource Manager answering 500 or 429 or not at
 * all, connections killed by the server and the source restarted during the copy. Each time datain
 * must stop with one paragraph and the exit code of product.md, leave no child process and a
 * checkpoint that says what happened, and a plain `datain start` must then finish with the replica
 * identical to the source, one replication user, one firewall rule per address and no secret shown.
 * The copy and the catch-up wait for every target; Azure Resource Manager's faults on Azure only.
 */

const root = path.resolve(import.meta.dirname, '../..')
const CLIENT_TOOLS = new Set(['mariadb', 'mariadb-dump', 'mysql', 'mysqldump'])

interface Env<S extends AnySandbox = AnySandbox> {
  sandbox: S
  home: string
  env: Record<string, string>
}

async function newEnv(options: AnySandboxOptions & {target: 'azure-mariadb'}): Promise<Env<Sandbox>>
async function newEnv(options: AnySandboxOptions): Promise<Env>
async function newEnv(options: AnySandboxOptions): Promise<Env> {
  const sandbox = await startSandbox({target: 'azure-mariadb', ...options})
  const home = await mkdtemp(path.join(tmpdir(), 'datain-faults-'))
  return {sandbox, home, env: targetEnv(sandbox, home)}
}

async function dispose(e: Env | undefined): Promise<void> {
  if (!e) return
  await e.sandbox.stop()
  await rm(e.home, {recursive: true, force: true})
}

interface Running {
  child: ResultPromise
  pid: number
  /** stderr so far. */
  output(): string
  done: Promise<CliResult>
}

/** `datain start` in the background, its output collected, `onLine` told of each stderr line as it comes. */
function startInBackground(e: Env, args: string[], extraEnv: Record<string, string> = {}, onLine?: (line: string) => void): Running {
  const child = execa(process.execPath, [path.join(root, 'bin', 'run.js'), 'start', ...args], {
    env: {PATH: process.env.PATH, HOME: process.env.HOME, ...e.env, ...extraEnv},
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    cwd: root,
    buffer: false,
  })
  let stdout = ''
  let stderr = ''
  let partial = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
  // Reacted to in the 'data' callback itself: the test injects ARM faults the moment a step begins.
  child.stderr!.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8')
    stderr += text
    const lines = (partial + text).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) onLine?.(line)
  })
  const done = child.then((r) => ({exitCode: r.exitCode ?? -1, stdout, stderr}))
  return {child, pid: child.pid!, output: () => stderr, done}
}

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await sleep(everyMs)
  }
}

// ---- processes ----------------------------------------------------------------------------------

interface Proc {
  pid: number
  ppid: number
  name: string
  cmdline: string[]
}

/** Every process on the machine, from /proc: its parent, its name and its command line. */
async function processes(): Promise<Proc[]> {
  const out: Proc[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
      // pid (comm) state ppid …: comm may hold spaces and parentheses, the last ')' ends it.
      const close = stat.lastIndexOf(')')
      const name = stat.slice(stat.indexOf('(') + 1, close)
      const ppid = Number(stat.slice(close + 2).split(' ')[1])
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').filter(Boolean)
      out.push({pid: Number(entry), ppid, name, cmdline})
    } catch {
      // Gone meanwhile.
    }
  }
  return out
}

const isClientTool = (p: Proc) => CLIENT_TOOLS.has(path.basename(p.cmdline[0] ?? p.name)) || CLIENT_TOOLS.has(p.name)

/** The client tools datain `pid` runs now. */
async function childToolsOf(pid: number): Promise<Proc[]> {
  return (await processes()).filter((p) => p.ppid === pid && isClientTool(p))
}

/** Client tools talking to this sandbox's servers, whoever their parent is now (an orphan's is 1). */
async function toolsOnSandbox(e: Env): Promise<Proc[]> {
  const ports = [`--port=${e.sandbox.source.port}`, `--port=${e.sandbox.replica.port}`]
  return (await processes()).filter((p) => isClientTool(p) && p.cmdline.some((a) => ports.includes(a)))
}

// ---- state and servers --------------------------------------------------------------------------

interface StepState {
  state: string
  error?: {code: string; message: string}
}

async function checkpoint(e: Env, profile: string): Promise<Record<string, StepState>> {
  const text = await readFile(path.join(e.home, 'profiles', profile, 'checkpoint.json'), 'utf8')
  return (JSON.parse(text) as {steps: Record<string, StepState>}).steps
}

/** Rows of `shop` on the replica so far (InnoDB's estimate: it moves while the copy runs). */
async function replicaRows(e: Env): Promise<number> {
  const [row] = await e.sandbox.replica.server
    .query<Array<{n: bigint | number}>>("SELECT COALESCE(SUM(TABLE_ROWS), 0) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop'")
    .catch(() => [{n: 0}])
  return Number(row?.n ?? 0)
}

/**
 * Waits until datain copies: the snapshot step has begun and rows reach the replica. Returns the
 * client tools datain runs at that moment (the single-stream copy's mariadb-dump and mariadb; a copy
 * by datain's own connections may run none).
 */
async function waitForCopy(e: Env, run: Running): Promise<Proc[]> {
  await waitUntil('the copy runs', async () => run.output().includes('▶ Snapshot:') && (await replicaRows(e)) > 0, 60_000, 50)
  return childToolsOf(run.pid)
}

/** No session of datain's users is left on either server (the server may take a moment to end a killed one). */
async function expectNoSessionsLeft(e: Env): Promise<void> {
  const left = async () => {
    const [source, replica] = await Promise.all([
      e.sandbox.source.server.query<unknown[]>('SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?', [e.sandbox.source.user]),
      e.sandbox.replica.server.query<unknown[]>('SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?', [e.sandbox.replica.account]),
    ])
    return source.length + replica.length
  }
  await waitUntil("datain's sessions have ended", async () => (await left()) === 0, 10_000)
}

/** The two ways of copying: `--parallel 1` pipes mariadb-dump into mariadb; the default uses datain's own connections. */
type Engine = 'stream' | 'parallel'
const engineArgs = (engine: Engine) => (engine === 'stream' ? ['--parallel', '1'] : [])

const names = (tools: Proc[]) => tools.map((t) => path.basename(t.cmdline[0] ?? t.name)).sort()

async function expectIdentical(e: Env, databases = ['shop']): Promise<void> {
  const [{pos}] = (await e.sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
  await waitUntil('the replica has caught up', async () => {
    const [row] = await e.sandbox.replica.server.query<Array<{ok: number | null}>>('SELECT MASTER_GTID_WAIT(?, 0) = 0 AS ok', [pos])
    return Number(row?.ok) === 1
  }, 60_000, 200)
  expect(await tableFingerprints(e.sandbox.replica.server, databases)).toEqual(await tableFingerprints(e.sandbox.source.server, databases))
}

/** What must hold after any failure and resume: one replication user, one rule per address, nothing secret shown. */
async function expectCleanAftermath(e: Env, results: CliResult[]): Promise<void> {
  const users = await e.sandbox.source.server.query<unknown[]>("SELECT User FROM mysql.user WHERE User = 'datain_repl'")
  expect(users).toHaveLength(1)
  const rules = [...(e.sandbox.azure?.state.firewallRules.values() ?? [])]
  expect(new Set(rules.map((r) => r.startIpAddress)).size).toBe(rules.length)
  for (const r of results) for (const secret of sandboxSecrets(e.sandbox)) expect(r.stdout + r.stderr).not.toContain(secret)
}

/** `datain start` again after a failure: it succeeds, the replica is identical, and the aftermath of all the runs is clean. */
async function resumeToIdentical(e: Env, profile: string, earlier: CliResult[]): Promise<void> {
  const finish = await datain(['start', '--profile', profile], e.env)
  expect(finish.exitCode, finish.stderr).toBe(0)
  await expectIdentical(e)
  await expectCleanAftermath(e, [...earlier, finish])
}

/** The error paragraph as one line: oclif wraps it at the terminal width behind ` › ` prefixes. */
function message(result: CliResult): string {
  return result.stderr
    .split('\n')
    .filter((l) => l.startsWith(' ›'))
    .map((l) => l.replace(/^ › {3}/, ''))
    .join(' ')
    .replaceAll(/\s+/g, ' ')
}

/** A failure as product.md wants it: the exit code, one paragraph with the code, no stack trace, no "bug". */
function expectCleanFailure(result: CliResult, exit: number | number[], code?: string | RegExp): void {
  const exits = Array.isArray(exit) ? exit : [exit]
  expect(exits, `exit ${result.exitCode}: ${result.stderr}`).toContain(result.exitCode)
  expect(result.stderr.match(/ › {3}Error: /g), result.stderr).toHaveLength(1)
  // The connector's or Node's internals are not a message for people.
  expect(message(result)).not.toMatch(/Cannot read properties|TypeError|is not a function|\bundefined\b/)
  expect(result.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m)
  expect(result.stderr).not.toContain('unexpected error')
  // One paragraph: no cause chain of the driver's or the SDK's own words after it.
  expect(result.stderr).not.toContain('Caused by')
  expect(result.stderr).not.toContain('E_INTERNAL')
  if (code) expect(result.stderr).toMatch(typeof code === 'string' ? new RegExp(`Code: ${code}\\b`) : code)
}

/** Puts the servers back as before any setup, for a new profile on the same sandbox. */
async function resetServers(e: Env): Promise<void> {
  await e.sandbox.replica.server.execute([
    'STOP ALL SLAVES',
    "RESET SLAVE '' ALL",
    'DROP DATABASE IF EXISTS shop',
    "SET GLOBAL replicate_wild_ignore_table = ''",
    'SET GLOBAL log_bin_trust_function_creators = OFF',
  ])
  await e.sandbox.source.server.execute(["DROP USER IF EXISTS 'datain_repl'@'%'"])
  e.sandbox.azure?.state.firewallRules.clear()
}

// ---- the copy, interrupted ----------------------------------------------------------------------

/**
 * Which of the copy's cases run for a target: all six for Azure; for a plain replica one of each
 * kind (a signal, a killed loading connection, a restarted source), each with the other engine than
 * the kind's first, so that both engines meet both targets while the file stays near three minutes
 * (a copy of 100,000 rows per case on two shared cores).
 */
const copyCases = <C extends {engine: Engine}>(target: string, cases: C[], forPlain: Engine): C[] => (target === 'mariadb' ? cases.filter((c) => c.engine === forPlain) : cases)

describe.each(TARGETS)('datain start interrupted in the middle of the copy, --target %s', (target) => {
  let e: Env
  beforeAll(async () => {
    e = await newEnv({sampleRows: 100_000, target})
  })
  afterAll(() => dispose(e))

  const interruptions: Array<{signal: 'SIGTERM' | 'SIGINT'; engine: Engine}> = [
    {signal: 'SIGTERM', engine: 'stream'},
    {signal: 'SIGINT', engine: 'parallel'},
  ]
  for (const {signal, engine} of copyCases(target, interruptions, 'parallel')) {
    it(`stops on ${signal} during the ${engine} copy promptly, leaves nothing running and a checkpoint that says interrupted; start then finishes`, async () => {
      const profile = signal.toLowerCase()
      await resetServers(e)
      expect((await datain(['init', '--profile', profile], e.env)).exitCode).toBe(0)

      const run = startInBackground(e, ['--profile', profile, ...engineArgs(engine)])
      const tools = await waitForCopy(e, run)
      if (engine === 'stream') expect(names(tools)).toEqual(['mariadb', 'mariadb-dump'])
      const signalled = Date.now()
      run.child.kill(signal)
      const stopped = await run.done
      const seconds = (Date.now() - signalled) / 1000

      // 128 + the signal, as a shell reports a process it ended: 143 for SIGTERM, 130 for Ctrl-C.
      expectCleanFailure(stopped, signal === 'SIGTERM' ? 143 : 130, 'E_INTERRUPTED')
      expect(message(stopped)).toContain('datain was interrupted')
      expect(seconds).toBeLessThan(8)
      expect((await checkpoint(e, profile)).snapshot).toMatchObject({state: 'interrupted', error: {code: 'E_INTERRUPTED'}})
      for (const tool of tools) expect(() => process.kill(tool.pid, 0), `${tool.name} ${tool.pid}`).toThrow()
      expect(await toolsOnSandbox(e)).toEqual([])
      await expectNoSessionsLeft(e)

      await resumeToIdentical(e, profile, [stopped])
    })
  }

  for (const {engine} of copyCases(target, [{engine: 'stream'}, {engine: 'parallel'}], 'stream')) {
    it(`fails cleanly when the replica kills a loading connection of the ${engine} copy, and resumes to an identical replica`, async () => {
      await resetServers(e)
      const profile = `killed-load-${engine}`
      expect((await datain(['init', '--profile', profile], e.env)).exitCode).toBe(0)

      const run = startInBackground(e, ['--profile', profile, ...engineArgs(engine)])
      await waitForCopy(e, run)
      // A loading session is one running LOAD DATA (parallel) or the dump's INSERT (stream) right now: a session merely
      // in `shop` may be datain's own, creating the routines and views once the rows are in (a kill there is another case).
      let loader: number | undefined
      await waitUntil('a loading session is seen', async () => {
        const [row] = await e.sandbox.replica.server.query<Array<{id: bigint}>>(
          "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ? AND (INFO LIKE 'LOAD DATA%' OR INFO LIKE 'INSERT%') ORDER BY TIME DESC LIMIT 1",
          [e.sandbox.replica.account],
        )
        loader = row === undefined ? undefined : Number(row.id)
        return loader !== undefined
      }, 30_000, 20)
      await e.sandbox.replica.server.execute([`KILL ${loader}`])
      const failed = await run.done

      expectCleanFailure(failed, [1, 4])
      // The client echoes the failing INSERT: rows of user data have no place in an error message.
      expect(message(failed)).not.toContain('@example.com')
      if (engine === 'stream') {
        // A connection lost, not one refused: exit 4 and "run again", not "check the credentials".
        expectCleanFailure(failed, 4, 'E_REPLICA_CONNECTION')
        expect(message(failed)).toContain('lost its connection to the replica')
      }
      expect((await checkpoint(e, profile)).snapshot?.state).toBe('failed')
      expect(await toolsOnSandbox(e)).toEqual([])
      await expectNoSessionsLeft(e)

      await resumeToIdentical(e, profile, [failed])
    })
  }

  for (const {engine} of copyCases(target, [{engine: 'stream'}, {engine: 'parallel'}], 'parallel')) {
    it(`fails cleanly when the source restarts during the ${engine} copy, and resumes to an identical replica`, async () => {
      await resetServers(e)
      const profile = `source-restart-${engine}`
      expect((await datain(['init', '--profile', profile], e.env)).exitCode).toBe(0)

      const run = startInBackground(e, ['--profile', profile, ...engineArgs(engine)])
      await waitForCopy(e, run)
      // A clean shutdown and start of the source's mariadbd, as a DBA's restart: datain's sessions on it are cut.
      await e.sandbox.source.server.restart()
      const failed = await run.done

      expectCleanFailure(failed, [1, 4])
      // The source's failure, not the replica's.
      expect(message(failed)).toMatch(/\bsource\b/)
      expect((await checkpoint(e, profile)).snapshot?.state).toBe('failed')
      expect(await toolsOnSandbox(e)).toEqual([])
      await expectNoSessionsLeft(e)

      await resumeToIdentical(e, profile, [failed])
    })
  }
})

// ---- Azure Resource Manager failing, and the catch-up wait interrupted ---------------------------

describe('datain start when Azure Resource Manager fails (Azure only: a plain replica has no ARM)', () => {
  let e: Env<Sandbox>
  const arm = () => e.sandbox.azure.arm
  /** `datain start --profile`, with a fault injected the moment the step titled `title` begins. */
  const startFaultingAt = (profile: string, title: string, inject: () => void, extraEnv: Record<string, string> = {}) => {
    let injected = false
    const run = startInBackground(e, ['--profile', profile], extraEnv, (line) => {
      if (!injected && line.startsWith(`▶ ${title}:`)) {
        injected = true
        inject()
      }
    })
    return {run, injected: () => injected}
  }
  /** The statuses the emulator answered for paths holding `part`, in order. */
  const answered = (part: string, since: number) =>
    arm()
      .requestLog.slice(since)
      .filter((r) => r.path.toLowerCase().includes(part.toLowerCase()))
      .map((r) => `${r.method} ${r.status}`)

  beforeAll(async () => {
    e = await newEnv({sampleRows: 500, target: 'azure-mariadb'})
    // A database left out of the copy: `--databases shop` then needs the replica's filter, set through ARM.
    await e.sandbox.source.server.execute([
      'CREATE DATABASE extra',
      'CREATE TABLE extra.notes (id INT PRIMARY KEY, note VARCHAR(40) NOT NULL) ENGINE=InnoDB',
      "INSERT INTO extra.notes VALUES (1, 'not copied')",
    ])
  })
  afterAll(() => dispose(e))

  // The source's address differs from datain's (as it would outside a sandbox), so the firewall step adds a rule of its own.
  const init = (profile: string) => datain(['init', '--profile', profile, '--databases', 'shop', '--source-ip', '10.20.30.40'], e.env)

  it('firewall step: a 500 beyond the SDK retries fails with exit 4 and a failed step; a 429 once is retried; start resumes', async () => {
    const profile = 'arm-firewall'
    expect((await init(profile)).exitCode).toBe(0)
    const rule = `firewallRules/datain-${profile}-source`
    const since = arm().requestLog.length
    arm().injectFault({status: 500, times: 10, pathIncludes: rule})
    const failed = await datain(['start', '--profile', profile], e.env)

    expectCleanFailure(failed, 4, 'E_ARM_UNAVAILABLE')
    const steps = await checkpoint(e, profile)
    expect(steps.firewall).toMatchObject({state: 'failed', error: {code: 'E_ARM_UNAVAILABLE'}})
    expect(steps['replication-user']?.state).toBe('done')
    expect(steps.snapshot).toBeUndefined()
    // The SDK tried more than once before giving up.
    expect(answered(rule, since).filter((a) => a === 'PUT 500').length).toBeGreaterThan(1)

    arm().clearFaults()
    const retried = arm().requestLog.length
    arm().injectFault({status: 429, retryAfterSeconds: 1, times: 1, pathIncludes: rule})
    const finish = await datain(['start', '--profile', profile], e.env)
    expect(finish.exitCode, finish.stderr).toBe(0)
    expect(answered(rule, retried)).toEqual(['PUT 429', expect.stringMatching(/^PUT 20[01]$/)])
    await expectIdentical(e)
    await expectCleanAftermath(e, [failed, finish])
  })

  it("snapshot's log_bin_trust_function_creators: a 500 beyond the retries fails with exit 4; Ctrl-C while ARM hangs interrupts at once; start resumes", async () => {
    await resetServers(e)
    const profile = 'arm-snapshot'
    expect((await init(profile)).exitCode).toBe(0)
    const parameter = 'configurations/log_bin_trust_function_creators'
    const first = startFaultingAt(profile, 'Snapshot', () => arm().injectFault({status: 500, times: 10, pathIncludes: parameter}))
    const failed = await first.run.done
    expect(first.injected()).toBe(true)

    expectCleanFailure(failed, 4, 'E_ARM_UNAVAILABLE')
    expect((await checkpoint(e, profile)).snapshot).toMatchObject({state: 'failed', error: {code: 'E_ARM_UNAVAILABLE'}})
    // Nothing was copied: the parameter comes first.
    expect(await replicaRows(e)).toBe(0)
    arm().clearFaults()

    // ARM accepts the next request and never answers; SIGINT must not wait for it.
    let hungAt = Number.POSITIVE_INFINITY
    const second = startFaultingAt(profile, 'Snapshot', () => {
      hungAt = arm().requestLog.length
      arm().hang(1)
    })
    // The first request after the hang began is the one left unanswered (the preflight read this parameter too, and was answered).
    await waitUntil('the ARM request hangs', () => arm().requestLog.length > hungAt, 30_000)
    expect(arm().requestLog[hungAt]?.path.toLowerCase()).toContain(parameter)
    const signalled = Date.now()
    second.run.child.kill('SIGINT')
    const interrupted = await second.run.done
    expectCleanFailure(interrupted, 130, 'E_INTERRUPTED')
    expect((Date.now() - signalled) / 1000).toBeLessThan(5)
    expect((await checkpoint(e, profile)).snapshot?.state).toBe('interrupted')

    arm().clearFaults()
    await resumeToIdentical(e, profile, [failed, interrupted])
  })

  it("link step's replication filter: a 500 beyond the retries fails with exit 4; start resumes, and the filter works", async () => {
    await resetServers(e)
    const profile = 'arm-link'
    expect((await init(profile)).exitCode).toBe(0)
    const parameter = 'configurations/replicate_wild_ignore_table'
    const first = startFaultingAt(profile, 'Link', () => arm().injectFault({status: 500, times: 10, pathIncludes: parameter}))
    const failed = await first.run.done
    expect(first.injected()).toBe(true)

    expectCleanFailure(failed, 4, 'E_ARM_UNAVAILABLE')
    expect((await checkpoint(e, profile)).link).toMatchObject({state: 'failed', error: {code: 'E_ARM_UNAVAILABLE'}})
    arm().clearFaults()

    const finish = await datain(['start', '--profile', profile], e.env)
    expect(finish.exitCode, finish.stderr).toBe(0)
    // A write to the database left out does not stop replication (error 1146 without the filter).
    await e.sandbox.source.server.execute(["INSERT INTO extra.notes VALUES (2, 'still not copied')", "UPDATE shop.orders SET status = 'paid' WHERE id = 2"])
    await expectIdentical(e)
    const [status] = await e.sandbox.replica.server.query<Array<{Slave_SQL_Running: string}>>('SHOW SLAVE STATUS')
    expect(status?.Slave_SQL_Running).toBe('Yes')
    await expectCleanAftermath(e, [failed, finish])
  })

  it('ARM that does not answer: datain gives up after DATAIN_ARM_TIMEOUT_MS with exit 4; start then resumes', async () => {
    const profile = 'arm-link'
    arm().hang(1)
    const started = Date.now()
    const failed = await datain(['start', '--profile', profile], {...e.env, DATAIN_ARM_TIMEOUT_MS: '2000'})
    const seconds = (Date.now() - started) / 1000
    arm().clearFaults()

    expectCleanFailure(failed, 4, 'E_ARM_UNREACHABLE')
    expect(seconds).toBeLessThan(20)
    expect((await checkpoint(e, profile)).preflight?.state).toBe('failed')

    await resumeToIdentical(e, profile, [failed])
  })
})

// ---- the catch-up wait interrupted ----------------------------------------------------------------

describe.each(TARGETS)('datain start interrupted during the catch-up wait, --target %s', (target) => {
  let e: Env
  beforeAll(async () => {
    e = await newEnv({sampleRows: 500, target})
    // Copied and linked, then stopped: the next start has only the replicate step, and its catch-up wait, to run.
    expect((await datain(['init', '--profile', 'catch-up'], e.env)).exitCode).toBe(0)
    const start = await datain(['start', '--profile', 'catch-up'], e.env)
    expect(start.exitCode, start.stderr).toBe(0)
    const stop = await datain(['stop', '--profile', 'catch-up'], e.env)
    expect(stop.exitCode, stop.stderr).toBe(0)
  })
  afterAll(() => dispose(e))

  it("catch-up wait: SIGTERM interrupts it; a killed monitoring connection is opened again; start resumes once the replica can apply", async () => {
    const profile = 'catch-up'
    // The replica's SQL thread cannot apply changes to orders while root holds this lock: the replica lags.
    const lock = await e.sandbox.replica.server.connectAsRoot()
    try {
      await lock.query('LOCK TABLES shop.orders WRITE')
      await e.sandbox.source.server.execute(["UPDATE shop.orders SET status = 'shipped' WHERE id <= 5"])

      const waiting = (run: Running) => waitUntil('datain waits for the catch-up', () => run.output().includes('Catching up'), 30_000)
      const first = startInBackground(e, ['--profile', profile])
      await waiting(first)
      const signalled = Date.now()
      first.child.kill('SIGTERM')
      const interrupted = await first.done
      expectCleanFailure(interrupted, 143, 'E_INTERRUPTED')
      expect((Date.now() - signalled) / 1000).toBeLessThan(5)
      expect((await checkpoint(e, profile)).replicate?.state).toBe('interrupted')

      const second = startInBackground(e, ['--profile', profile])
      await waiting(second)
      const sessions = async () =>
        (
          await e.sandbox.replica.server.query<Array<{id: bigint}>>('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?', [
            e.sandbox.replica.account,
          ])
        ).map((r) => Number(r.id))
      // datain's only connection to the replica while it waits (the one it monitors with).
      const before = await sessions()
      expect(before.length).toBeGreaterThan(0)
      await e.sandbox.replica.server.execute(before.map((id) => `KILL ${id}`))
      // datain opens a new connection and goes on waiting.
      await waitUntil('datain connects again', async () => {
        if (second.child.exitCode !== null) throw new Error(`datain ended (exit ${second.child.exitCode}) instead of connecting again:\n${second.output()}`)
        return (await sessions()).some((id) => !before.includes(id))
      }, 15_000)
      await sleep(1500)
      expect(second.child.exitCode).toBeNull()

      await lock.query('UNLOCK TABLES')
      const finish = await second.done
      expect(finish.exitCode, finish.stderr).toBe(0)
      await expectIdentical(e)
      await expectCleanAftermath(e, [interrupted, finish])
    } finally {
      await lock.end()
    }
  })
})
