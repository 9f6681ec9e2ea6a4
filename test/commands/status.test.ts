import {execa} from 'execa'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import type {Connection} from 'mariadb'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type AnySandbox, type SandboxOptions, type SandboxTarget, startSandbox} from '../../sandbox/sandbox.js'
import type {StatusReport} from '../../src/status/status-report.js'
import {type CliResult, datain} from '../helpers/datain.js'
import {sandboxSecrets, TARGETS, targetEnv} from '../helpers/targets.js'
import {startWriteLoad, tableFingerprints} from '../helpers/write-load.js'

/**
 * `datain status` in every state, against real servers: the built CLI, run as cron or a person
 * would, its exit code and its --json, for every target. Each sandbox is walked through its states in
 * order; the destructive ones (a server down) come last.
 */

interface Env {
  sandbox: AnySandbox
  home: string
  env: Record<string, string>
}

async function newEnv(target: SandboxTarget, options: SandboxOptions = {}): Promise<Env> {
  const sandbox = await startSandbox({sampleRows: 300, ...options, target})
  const home = await mkdtemp(path.join(tmpdir(), 'datain-status-'))
  return {sandbox, home, env: targetEnv(sandbox, home)}
}

async function dispose(e: Env | undefined): Promise<void> {
  if (!e) return
  await e.sandbox.stop()
  await rm(e.home, {recursive: true, force: true})
}

async function secretsOf(e: Env): Promise<string[]> {
  const secrets = sandboxSecrets(e.sandbox)
  const file = await readFile(path.join(e.home, 'profiles', 'default', 'secrets.json'), 'utf8').catch(() => undefined)
  if (file) secrets.push((JSON.parse(file) as {replicationPassword: string}).replicationPassword)
  return secrets
}

/** Runs `datain status` and checks that no password, token or generated secret is in what it printed. */
async function status(e: Env, args: string[] = [], env: Record<string, string> = {}): Promise<CliResult> {
  const result = await datain(['status', ...args], {...e.env, ...env})
  for (const secret of [...(await secretsOf(e)), ...Object.values(env)]) {
    if (secret.length > 3) expect(result.stdout + result.stderr).not.toContain(secret)
  }
  return result
}

async function statusJson(e: Env, args: string[] = [], env: Record<string, string> = {}): Promise<{exitCode: number; report: StatusReport; raw: CliResult}> {
  const raw = await status(e, ['--json', ...args], env)
  let report: StatusReport
  try {
    report = JSON.parse(raw.stdout) as StatusReport
  } catch {
    throw new Error(`not JSON (exit ${raw.exitCode}): ${raw.stdout}\n${raw.stderr}`)
  }
  expect(report.exitCode).toBe(raw.exitCode)
  return {exitCode: raw.exitCode, report, raw}
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 200))
  }
}

async function slaveStatus(e: Env): Promise<Record<string, unknown>> {
  const [row] = await e.sandbox.replica.server.query<Array<Record<string, unknown>>>('SHOW SLAVE STATUS')
  return row ?? {}
}

/** The replica has executed everything the source logged. */
async function waitCaughtUp(e: Env): Promise<void> {
  const [{pos}] = (await e.sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
  await waitUntil(async () => {
    const [row] = await e.sandbox.replica.server.query<Array<{ok: number | null}>>('SELECT MASTER_GTID_WAIT(?, 0) = 0 AS ok', [pos])
    return Number(row?.ok) === 1
  })
}

const STEP_IDS = ['preflight', 'binlog', 'replication-user', 'firewall', 'snapshot', 'link', 'replicate']

/** What a target says for the firewall step, and the command that skips a failed transaction. */
const EXPECTED = {
  'azure-mariadb': {firewallSummary: /^rules created: datain-default-/, skip: 'CALL mysql.az_replication_skip_counter'},
  mariadb: {firewallSummary: /not applicable/, skip: 'SET GLOBAL sql_slave_skip_counter = 1; START SLAVE'},
}

describe.each(TARGETS)('datain status, GTID mode with TLS, from init to a source gone, --target %s', (target) => {
  let e: Env
  beforeAll(async () => {
    e = await newEnv(target)
    const init = await datain(['init'], e.env)
    expect(init.exitCode, init.stderr + init.stdout).toBe(0)
  })
  afterAll(() => dispose(e))

  it('not started (after init only): exit 1, every step not started, datain start next', async () => {
    const text = await status(e)
    expect(text.exitCode, text.stderr).toBe(1)
    expect(text.stdout).toContain('NOT STARTED')
    expect(text.stdout).toContain('Run datain start')
    expect(text.stdout).toContain('Next: datain start')

    const {report} = await statusJson(e)
    expect(report).toMatchObject({profile: 'default', state: 'not-started', exitCode: 1, next: 'datain start', replication: null, applyRate: null, eta: null})
    expect(report.steps.map((s) => [s.id, s.state])).toEqual(STEP_IDS.map((id) => [id, 'not-started']))
  })

  it('mid-setup (start killed at the snapshot): exit 1, the snapshot interrupted, the steps before it done', async () => {
    const killed = await datain(['start'], {...e.env, DATAIN_TEST_CRASH_AT: 'snapshot:start'})
    expect(killed.exitCode).not.toBe(0)

    const {exitCode, report} = await statusJson(e)
    expect(exitCode).toBe(1)
    expect(report).toMatchObject({state: 'setup-incomplete', next: 'datain start'})
    expect(report.summary).toContain('step 5/7, Snapshot, was interrupted')
    expect(report.steps.map((s) => s.state)).toEqual(['done', 'done', 'done', 'done', 'interrupted', 'not-started', 'not-started'])
    expect(report.steps[4]?.error?.code).toBe('E_STOPPED_MID_STEP')
    expect(report.steps[3]?.summary).toMatch(EXPECTED[target].firewallSummary)
    // Read live all the same: the replica answers and has no source yet.
    expect(report.replication).toMatchObject({reachable: true, linked: false})

    const text = await status(e)
    expect(text.exitCode).toBe(1)
    expect(text.stdout).toContain('SETUP NOT FINISHED')
    expect(text.stdout).toMatch(/! Snapshot +interrupted/)
    expect(text.stdout).toContain('Next: datain start')
  })

  it('replicating: exit 0, the --json shape field by field', async () => {
    const start = await datain(['start'], e.env)
    expect(start.exitCode, start.stderr).toBe(0)

    const {exitCode, report} = await statusJson(e)
    expect(exitCode).toBe(0)
    expect(Object.keys(report).sort()).toEqual(['applyRate', 'checkedAt', 'eta', 'exitCode', 'maxLag', 'next', 'profile', 'replication', 'state', 'steps', 'summary'])
    expect(report).toMatchObject({profile: 'default', state: 'healthy', exitCode: 0, summary: 'Replicating: caught up.', next: null, maxLag: 300, eta: 0})
    expect(Date.now() - Date.parse(report.checkedAt)).toBeLessThan(60_000)

    expect(report.steps.map((s) => s.id)).toEqual(STEP_IDS)
    for (const step of report.steps) {
      expect(Object.keys(step).sort()).toEqual(['details', 'error', 'finishedAt', 'id', 'progress', 'seconds', 'startedAt', 'state', 'summary', 'title'])
      // The copy's progress only while it runs: once done, its details hold the per-table summary.
      expect(step).toMatchObject({state: 'done', error: null, progress: null})
      expect(Date.parse(step.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(step.startedAt!))
      expect(step.seconds).toBeGreaterThanOrEqual(0)
    }
    const [source] = await e.sandbox.source.server.query<Array<{File: string}>>('SHOW MASTER STATUS')
    const snapshot = report.steps[4]!
    expect(snapshot.details).toMatchObject({databases: ['shop'], binlogFile: source!.File})
    expect(snapshot.details.gtidPosition).toMatch(/^0-1-\d+$/)
    expect(snapshot.details.rows).toBeGreaterThan(0)
    expect(snapshot.summary).toContain(`GTID ${String(snapshot.details.gtidPosition)}`)
    expect(report.steps[5]).toMatchObject({details: {mode: 'gtid', tls: true, action: 'linked'}})

    const r = report.replication!
    const [{pos}] = (await e.sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
    expect(r).toEqual({
      reachable: true,
      error: null,
      linked: true,
      mode: 'gtid',
      io: 'running',
      ioState: 'Waiting for master to send event',
      sql: 'running',
      sqlState: expect.any(String),
      secondsBehind: 0,
      caughtUp: true,
      lag: {transactions: 0, bytes: 0, files: 0, seconds: 0},
      source: {host: '127.0.0.1', port: e.sandbox.source.port, reachable: true, error: null, gtid: pos, file: source!.File, position: expect.any(Number)},
      replica: {
        host: e.sandbox.replica.host,
        port: e.sandbox.replica.port,
        gtidExecuted: pos,
        file: source!.File,
        position: r.source.position,
        readFile: source!.File,
        readPosition: r.source.position,
        linkedTo: `127.0.0.1:${e.sandbox.source.port}`,
      },
      errors: {io: null, sql: null},
      hint: null,
    })
    expect(report.applyRate).toEqual({
      transactionsPerSecond: 0,
      bytesPerSecond: 0,
      sourceTransactionsPerSecond: 0,
      sourceBytesPerSecond: 0,
      sampleSeconds: expect.any(Number),
    })
    expect(report.applyRate!.sampleSeconds).toBeGreaterThanOrEqual(0.9)

    const text = await status(e)
    expect(text.exitCode).toBe(0)
    expect(text.stdout).toMatch(/^HEALTHY/)
    expect(text.stdout).toMatch(/IO thread +running/)
    expect(text.stdout).toMatch(/Lag +none/)
  })

  it('lagging under a write load while the replica’s SQL thread waits on a lock: exit 5 with --max-lag 0, transactions behind', async () => {
    const lock: Connection = await e.sandbox.replica.server.connectAsRoot()
    const load = await startWriteLoad(e.sandbox)
    try {
      await lock.query('LOCK TABLES shop.orders WRITE')
      await waitUntil(async () => String((await slaveStatus(e)).Slave_SQL_Running_State).includes('lock'))
      // Seconds_Behind_Master counts from the blocked event's timestamp: let a second or two pass.
      await new Promise((r) => setTimeout(r, 1500))

      const {exitCode, report} = await statusJson(e, ['--max-lag', '0'])
      expect(exitCode).toBe(5)
      expect(report).toMatchObject({state: 'lagging', maxLag: 0, next: 'datain status --watch'})
      const r = report.replication!
      expect(r).toMatchObject({io: 'running', sql: 'running', caughtUp: false})
      expect(r.lag.transactions).toBeGreaterThan(0)
      expect(r.lag.seconds).toBeGreaterThan(0)
      // What the replica executed stands still while the source goes on.
      expect(report.applyRate?.transactionsPerSecond).toBe(0)
      expect(report.applyRate?.sourceTransactionsPerSecond).toBeGreaterThan(0)
      expect(report.eta).toBeNull()

      const text = await status(e, ['--max-lag', '0'])
      expect(text.exitCode).toBe(5)
      expect(text.stdout).toMatch(/^LAGGING {2}Replication runs but lags: [\d,]+ transactions behind/)

      // --max-lag decides: a day of tolerance calls the same replica healthy.
      const tolerant = await statusJson(e, ['--max-lag', '86400'])
      expect(tolerant.exitCode).toBe(0)
      expect(tolerant.report.replication!.lag.transactions).toBeGreaterThan(0)
    } finally {
      await load.stop()
      await lock.query('UNLOCK TABLES')
      await lock.end()
    }
    await waitCaughtUp(e)
    expect((await statusJson(e, ['--max-lag', '0'])).exitCode).toBe(0)
  })

  it('--watch redraws until Ctrl-C, then exits 0', async () => {
    const load = await startWriteLoad(e.sandbox, 'shop', 20)
    const child = execa(process.execPath, [path.resolve('bin/run.js'), 'status', '--watch', '--interval', '1'], {
      env: {PATH: process.env.PATH, HOME: process.env.HOME, ...e.env},
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    })
    const header = "datain status --watch: profile 'default', every 1 s"
    let seen = ''
    child.stdout!.on('data', (chunk: Buffer) => (seen += chunk.toString('utf8')))
    try {
      // Two frames, however slow the machine: the first waits for a sample of the apply rate.
      await waitUntil(async () => seen.split(header).length - 1 >= 2 || child.exitCode !== null)
      child.kill('SIGINT')
      const result = await child
      expect(result.exitCode, String(result.stderr)).toBe(0)
      const out = String(result.stdout)
      const frames = out.split(header).length - 1
      expect(frames).toBeGreaterThanOrEqual(2)
      // Not a terminal: plain frames, no cursor movement.
      expect(out).not.toContain('\x1b[')
      // From the second frame on, the rate between refreshes.
      expect(out).toMatch(/Apply rate +[\d.,]+ transactions\/s/)
      for (const secret of await secretsOf(e)) expect(out + String(result.stderr)).not.toContain(secret)
    } finally {
      await load.stop()
    }
    await waitCaughtUp(e)
  })

  it('--watch is not for --json', async () => {
    const result = await status(e, ['--watch', '--json'])
    expect(result.exitCode).toBe(2)
  })

  it('broken by a conflicting row written on the replica: exit 3 with the 1062 text and the hint', async () => {
    await e.sandbox.source.server.execute(['CREATE TABLE shop.status_conflict (id INT PRIMARY KEY, note VARCHAR(20))'])
    await waitCaughtUp(e)
    // Written on the replica behind replication's back (as root, kept out of its binlog).
    await e.sandbox.replica.server.execute(['SET SESSION sql_log_bin = 0', "INSERT INTO shop.status_conflict VALUES (1, 'replica')"])
    await e.sandbox.source.server.execute(["INSERT INTO shop.status_conflict VALUES (1, 'source')"])
    await waitUntil(async () => (await slaveStatus(e)).Slave_SQL_Running === 'No')

    const {exitCode, report} = await statusJson(e)
    expect(exitCode).toBe(3)
    expect(report.state).toBe('broken')
    const r = report.replication!
    expect(r).toMatchObject({io: 'running', sql: 'stopped', secondsBehind: null, caughtUp: false, lag: {transactions: 1}})
    expect(r.errors.io).toBeNull()
    expect(r.errors.sql?.errno).toBe(1062)
    expect(r.errors.sql?.message).toContain("Duplicate entry '1' for key 'PRIMARY'")
    expect(r.hint?.commands).toContain(EXPECTED[target].skip)
    expect(report.next).toBe(EXPECTED[target].skip)
    expect(report.summary).toContain("error 1062: Could not execute Write_rows_v1 event on table shop.status_conflict; Duplicate entry '1'")

    const text = await status(e)
    expect(text.exitCode).toBe(3)
    expect(text.stdout).toMatch(/^BROKEN/)
    expect(text.stdout).toContain("Duplicate entry '1' for key 'PRIMARY'")
    expect(text.stdout).toContain("The replica's data no longer matches the source's")
    expect(text.stdout).toMatch(/SQL thread +stopped/)

    // Repaired by hand: the replica's row goes, replication applies the source's.
    await e.sandbox.replica.server.execute(['SET SESSION sql_log_bin = 0', 'DELETE FROM shop.status_conflict', 'START SLAVE'])
    await waitCaughtUp(e)
    expect((await statusJson(e)).exitCode).toBe(0)
  })

  it('the source restarted under a write load: not broken while the replica reconnects on its own, then healthy, identical, no row applied twice', async () => {
    const load = await startWriteLoad(e.sandbox)
    let written: {statements: number; reconnects: number}
    try {
      await new Promise((r) => setTimeout(r, 1000))
      const before = e.sandbox.source.server.pid
      await e.sandbox.source.server.restart()
      // Another mariadbd on the same data and port; the one before has shut down.
      expect(e.sandbox.source.server.pid).not.toBe(before)
      expect(() => process.kill(before, 0)).toThrow()

      // The replica tried its source once while it was down, and tries again Connect_Retry (60 s) later:
      // Connecting with error 2003 meanwhile, though the source answers again. That is not broken.
      const {exitCode, report} = await statusJson(e)
      const r = report.replication!
      expect(r).toMatchObject({io: 'connecting', sql: 'running', source: {reachable: true, error: null}, hint: null})
      expect([2003, 2013]).toContain(r.errors.io?.errno)
      expect(report.state, report.summary).not.toBe('broken')
      expect([0, 5]).toContain(exitCode)
      expect(report.summary).toContain("The replica's IO thread is reconnecting")
      expect(report.summary).toContain('while the source restarted')

      // Nobody runs anything: the replica connects again by itself, and status says healthy.
      await waitUntil(async () => (await slaveStatus(e)).Slave_IO_Running === 'Yes', 120_000)
      const after = await statusJson(e)
      expect(after.report.state, after.report.summary).toBe('healthy')
      expect(after.exitCode).toBe(0)
    } finally {
      written = await load.stop()
    }
    // The load went on across the restart, on a new connection.
    expect(written.reconnects).toBeGreaterThan(0)
    await waitCaughtUp(e)

    const {exitCode, report} = await statusJson(e)
    expect(exitCode).toBe(0)
    expect(report).toMatchObject({state: 'healthy', summary: 'Replicating: caught up.'})
    expect(report.replication).toMatchObject({io: 'running', sql: 'running', caughtUp: true, errors: {io: null, sql: null}, hint: null})
    const status = await slaveStatus(e)
    expect(status).toMatchObject({Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Last_SQL_Errno: 0, Last_IO_Errno: 0})
    expect(await tableFingerprints(e.sandbox.replica.server, ['shop'])).toEqual(await tableFingerprints(e.sandbox.source.server, ['shop']))
    // Every insert of the load wrote its own note: a transaction applied twice would show one twice (or stop on 1062).
    const twice = "SELECT note, COUNT(*) AS n FROM shop.load_test WHERE note LIKE 'row %' GROUP BY note HAVING COUNT(*) > 1"
    expect(await e.sandbox.replica.server.query(twice)).toEqual([])
    const [{pos}] = (await e.sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
    expect(report.replication!.replica.gtidExecuted).toBe(pos)
  }, 240_000)

  it('the replica unreachable: exit 4 when its firewall refuses datain (Azure; a plain replica has none), and when it refuses the login', async () => {
    const azure = e.sandbox.azure
    if (azure) {
      const rules = new Map(azure.state.firewallRules)
      azure.state.firewallRules.clear()
      try {
        const {exitCode, report} = await statusJson(e)
        expect(exitCode).toBe(4)
        expect(report).toMatchObject({state: 'replica-unreachable', next: 'datain start', applyRate: null, eta: null})
        expect(report.replication).toMatchObject({reachable: false, linked: false, io: null, sql: null, error: {code: 'E_REPLICA_FIREWALL'}})
        expect(report.replication!.error!.message).toContain('error 9000')
        // The setup is still shown.
        expect(report.steps.every((s) => s.state === 'done')).toBe(true)
        const text = await status(e)
        expect(text.exitCode).toBe(4)
        expect(text.stdout).toMatch(/^REPLICA UNREACHABLE/)
      } finally {
        for (const [name, rule] of rules) azure.state.firewallRules.set(name, rule)
      }
    }

    const wrong = {DATAIN_REPLICA_PASSWORD: 'not-the-password-1'}
    const refused = await statusJson(e, [], wrong)
    expect(refused.exitCode).toBe(4)
    expect(refused.report.replication?.error?.code).toBe('E_REPLICA_AUTH')
    expect((await statusJson(e)).exitCode).toBe(0)
  })

  it('the source down: the replica’s side still shown, lag unknown, exit 3 once the replica’s IO thread fails', async () => {
    await e.sandbox.source.server.stop()
    await waitUntil(async () => Number((await slaveStatus(e)).Last_IO_Errno) !== 0, 60_000)

    const {exitCode, report} = await statusJson(e)
    expect(exitCode).toBe(3)
    expect(report.state).toBe('broken')
    const r = report.replication!
    expect(r.source).toMatchObject({reachable: false, gtid: null, file: null, position: null, error: {code: 'E_SOURCE_UNREACHABLE'}})
    expect(r).toMatchObject({reachable: true, linked: true, io: 'connecting', sql: 'running', caughtUp: null})
    expect(r.lag).toEqual({transactions: null, bytes: null, files: null, seconds: null})
    expect(r.replica.gtidExecuted).toMatch(/^0-1-\d+$/)
    expect(r.errors.io?.errno).toBe(2003)
    expect(r.hint?.text).toContain('The replica cannot reach the source')
    expect(report.summary).toContain('The source does not answer datain either')

    const text = await status(e)
    expect(text.exitCode).toBe(3)
    expect(text.stdout).toMatch(/Source now +not read: Nothing accepts connections at the source/)
    expect(text.stdout).toMatch(/IO thread +connecting/)
  })
})

describe.each(TARGETS)('datain status, binlog file/position mode, --target %s', (target) => {
  let e: Env
  beforeAll(async () => {
    e = await newEnv(target, {sampleRows: 200})
    const init = await datain(['init', '--no-gtid'], e.env)
    expect(init.exitCode, init.stderr + init.stdout).toBe(0)
  })
  afterAll(() => dispose(e))

  it('a step failed (binlog_format STATEMENT): exit 1 naming the step and its error', async () => {
    await e.sandbox.source.server.execute(["SET GLOBAL binlog_format = 'STATEMENT'"])
    try {
      const start = await datain(['start'], e.env)
      expect(start.exitCode).toBe(1)
      const {exitCode, report} = await statusJson(e)
      expect(exitCode).toBe(1)
      expect(report.state).toBe('setup-incomplete')
      const failed = report.steps.find((s) => s.state === 'failed')!
      // The preflight re-runs the binlog checks on every start, so it is the one that stops.
      expect(['preflight', 'binlog']).toContain(failed.id)
      expect(failed.error?.code).toMatch(/^E_(PREFLIGHT|BINLOG)$/)
      expect(failed.error?.message).toContain('binlog_format')
      expect(report.summary).toContain(`${failed.title}, failed (${failed.error!.code})`)
      expect(report.next).toBe('datain start')
      expect((await status(e)).stdout).toMatch(new RegExp(`✘ ${failed.title} +failed`))
    } finally {
      await e.sandbox.source.server.execute(["SET GLOBAL binlog_format = 'ROW'"])
    }
  })

  it('replicating by file and position: exit 0, bytes behind and no transaction count', async () => {
    const start = await datain(['start'], e.env)
    expect(start.exitCode, start.stderr).toBe(0)
    const {exitCode, report} = await statusJson(e)
    expect(exitCode).toBe(0)
    const r = report.replication!
    expect(r).toMatchObject({mode: 'file', io: 'running', sql: 'running', caughtUp: true, lag: {transactions: null, bytes: 0, seconds: 0}})
    expect(r.replica.file).toBe(r.source.file)
    expect(r.replica.position).toBe(r.source.position)
    expect(report.applyRate?.transactionsPerSecond).toBeNull()
    expect(report.steps[5]?.summary).toMatch(/^file mode from /)
  })

  it('the replica server down: exit 4', async () => {
    await e.sandbox.replica.server.stop()
    const {exitCode, report} = await statusJson(e)
    expect(exitCode).toBe(4)
    expect(report.state).toBe('replica-unreachable')
    expect(report.replication?.error?.code).toMatch(/^E_REPLICA_/)
    // The source still answers: its position is shown.
    expect(report.replication?.source).toMatchObject({reachable: true, file: expect.any(String)})
  })
})
