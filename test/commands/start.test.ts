import {execa} from 'execa'
import {mkdtemp, readdir, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type AnySandbox, type SandboxOptions, type SandboxTarget, startSandbox} from '../../sandbox/sandbox.js'
import {datain, resultJson} from '../helpers/datain.js'
import {sandboxSecrets, TARGETS, targetEnv} from '../helpers/targets.js'
import {startWriteLoad, tableFingerprints} from '../helpers/write-load.js'

/**
 * The whole setup against real servers, the real dump tools and the real Azure SDK: under a write
 * load, in both replication modes, killed (SIGKILL) at every step and resumed, for every target.
 */

interface Env {
  sandbox: AnySandbox
  home: string
  env: Record<string, string>
}

async function newEnv(target: SandboxTarget, options: SandboxOptions = {}): Promise<Env> {
  const sandbox = await startSandbox({sampleRows: 2000, ...options, target})
  const home = await mkdtemp(path.join(tmpdir(), 'datain-start-'))
  return {sandbox, home, env: targetEnv(sandbox, home)}
}

async function dispose(e: Env | undefined): Promise<void> {
  if (!e) return
  await e.sandbox.stop()
  await rm(e.home, {recursive: true, force: true})
}

async function expectIdentical(e: Env, databases = ['shop']): Promise<void> {
  // Caught up: the replica has executed everything the source logged.
  const [{pos}] = (await e.sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
  await waitUntil(async () => {
    const [row] = await e.sandbox.replica.server.query<Array<{ok: number | null}>>('SELECT MASTER_GTID_WAIT(?, 0) = 0 AS ok', [pos])
    return Number(row?.ok) === 1
  }, 60_000)
  expect(await tableFingerprints(e.sandbox.replica.server, databases)).toEqual(await tableFingerprints(e.sandbox.source.server, databases))
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 200))
  }
}

const secretsOf = (e: Env) => sandboxSecrets(e.sandbox)

async function expectNoSecretsOnDisk(e: Env, profile = 'default'): Promise<void> {
  const dir = path.join(e.home, 'profiles', profile)
  for (const file of await readdir(dir)) {
    const text = await readFile(path.join(dir, file), 'utf8')
    for (const secret of secretsOf(e)) expect(text, file).not.toContain(secret)
  }
}

describe.each(TARGETS)('--target %s', (target) => {
describe('datain start, GTID mode with TLS, under a write load', () => {
  let e: Env
  beforeAll(async () => {
    e = await newEnv(target)
  })
  afterAll(() => dispose(e))

  it('copies, links and replicates; the replica ends identical to the source', async () => {
    expect((await datain(['init'], e.env)).exitCode).toBe(0)

    const plan = await datain(['start', '--dry-run'], e.env)
    expect(plan.exitCode, plan.stderr).toBe(0)
    expect(plan.stdout).toContain(target === 'mariadb' ? 'MASTER_USE_GTID = slave_pos' : 'az_replication_change_master_with_gtid')
    for (const secret of secretsOf(e)) expect(plan.stdout + plan.stderr).not.toContain(secret)
    if (e.sandbox.target === 'azure-mariadb') expect(e.sandbox.azure.state.firewallRules.size).toBe(0)

    const load = await startWriteLoad(e.sandbox)
    const start = await datain(['start', '--json'], e.env)
    const {statements} = await load.stop()
    expect(start.exitCode, start.stderr + start.stdout).toBe(0)
    expect(statements).toBeGreaterThan(50)
    await expectIdentical(e)
    // The default copy: several threads in one snapshot, commits held for milliseconds.
    const snapshot = (resultJson(start.stdout) as {steps: Array<{id: string; output?: Record<string, unknown>}>}).steps.find((s) => s.id === 'snapshot')
    expect(snapshot?.output).toMatchObject({engine: 'parallel', snapshotMethod: 'backup-stage'})
    expect(Number(snapshot?.output?.threads)).toBeGreaterThanOrEqual(2)
    expect(Number(snapshot?.output?.writesHeldMs)).toBeLessThan(1000)

    // The sample's view, trigger, procedure, function and event work on the replica.
    const replica = e.sandbox.replica.server
    expect((await replica.query<unknown[]>('SELECT * FROM shop.customer_order_summary LIMIT 1')).length).toBe(1)
    const [fn] = await replica.query<Array<{v: unknown}>>('SELECT shop.customer_lifetime_value(1) AS v')
    expect(fn?.v).not.toBeUndefined()
    const events = await replica.query<Array<{STATUS: string}>>("SELECT STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'shop'")
    expect(events.map((ev) => ev.STATUS)).toEqual(['SLAVESIDE_DISABLED'])

    // Again: everything is done, nothing is done twice.
    const again = await datain(['start'], e.env)
    expect(again.exitCode, again.stderr).toBe(0)
    const users = await e.sandbox.source.server.query<unknown[]>("SELECT User FROM mysql.user WHERE User = 'datain_repl'")
    expect(users).toHaveLength(1)
    await expectNoSecretsOnDisk(e)
  })
})

describe('datain start --no-gtid (binlog file and position)', () => {
  let e: Env
  beforeAll(async () => {
    e = await newEnv(target, {sampleRows: 500})
  })
  afterAll(() => dispose(e))

  it('replicates from the recorded file and position and sets sync_master_info and sync_relay_log_info', async () => {
    expect((await datain(['init', '--no-gtid'], e.env)).exitCode).toBe(0)
    const load = await startWriteLoad(e.sandbox)
    const start = await datain(['start'], e.env)
    await load.stop()
    expect(start.exitCode, start.stderr).toBe(0)
    await expectIdentical(e)
    const [vars] = await e.sandbox.replica.server.query<Array<{m: number; r: number}>>(
      'SELECT @@sync_master_info AS m, @@sync_relay_log_info AS r',
    )
    expect([Number(vars!.m), Number(vars!.r)]).toEqual([1, 1])
  })
})

describe('datain start killed with SIGKILL and run again', () => {
  const points = ['preflight', 'binlog', 'replication-user', 'firewall', 'snapshot', 'link', 'replicate'].flatMap((step) => [
    `${step}:start`,
    `${step}:end`,
  ])
  let e: Env
  beforeAll(async () => {
    e = await newEnv(target, {sampleRows: 1000})
  })
  afterAll(() => dispose(e))

  it('finishes identical after a kill at the start and at the end of every step, doing nothing twice', async () => {
    expect((await datain(['init'], e.env)).exitCode).toBe(0)
    const load = await startWriteLoad(e.sandbox)
    try {
      for (const point of points) {
        const killed = await datain(['start'], {...e.env, DATAIN_TEST_CRASH_AT: point})
        expect(killed.exitCode, `${point}: ${killed.stderr}`).not.toBe(0)
      }
      const finish = await datain(['start'], e.env)
      expect(finish.exitCode, finish.stderr).toBe(0)
    } finally {
      await load.stop()
    }
    await expectIdentical(e)
    const users = await e.sandbox.source.server.query<unknown[]>("SELECT User FROM mysql.user WHERE User = 'datain_repl'")
    expect(users).toHaveLength(1)
    if (e.sandbox.target === 'azure-mariadb') {
      const rules = [...e.sandbox.azure.state.firewallRules.values()]
      expect(new Set(rules.map((r) => r.startIpAddress)).size).toBe(rules.length)
    }
  })

  it('resumes after a kill in the middle of the copy', async () => {
    const other = await newEnv(target, {sampleRows: 20000})
    try {
      expect((await datain(['init'], other.env)).exitCode).toBe(0)
      const child = execa(process.execPath, [path.resolve('bin/run.js'), 'start'], {env: other.env, reject: false})
      // Kill once rows have started to arrive on the replica.
      await waitUntil(async () => {
        const rows = await other.sandbox.replica.server
          .query<Array<{n: bigint}>>("SELECT COALESCE(SUM(TABLE_ROWS), 0) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop'")
          .catch(() => [{n: 0n}])
        return Number(rows[0]?.n) > 0
      }, 60_000)
      child.kill('SIGKILL')
      await child
      const finish = await datain(['start'], other.env)
      expect(finish.exitCode, finish.stderr).toBe(0)
      await expectIdentical(other)
    } finally {
      await dispose(other)
    }
  })
})
})
