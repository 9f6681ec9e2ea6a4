import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {dispose, type Env, expectIdentical, json, newEnv} from '../stop/helpers.js'

/**
 * Server parameters that real Azure Database for MariaDB may not offer (documented only for Azure
 * MySQL; issue 14): replicate_wild_ignore_table, which a subset (--databases) needs, and
 * sync_master_info and sync_relay_log_info, which file/position mode (--no-gtid) needs. Each path
 * through the CLI, with the parameters present and absent (the emulated ARM answers 404).
 */

const PARAMETERS = ['replicate_wild_ignore_table', 'sync_master_info', 'sync_relay_log_info']

interface Check {
  id: string
  status: string
  message: string
  fix?: string
}

interface InitJson {
  checks: Check[]
}

/** init (or start) with --json: its exit code and the report's check `id`. */
async function checkOf(e: Env, args: string[], id: string, exit: number): Promise<Check> {
  const result = await e.run([...args, '--json'])
  expect(result.exitCode, `${args.join(' ')}: ${result.stderr}\n${result.stdout}`).toBe(exit)
  const report = JSON.parse(result.stdout) as InitJson
  const check = report.checks.find((c) => c.id === id)
  expect(check, result.stdout).toBeDefined()
  return check!
}

/** A database on the source that `--databases shop` leaves out. */
async function addUncopiedDatabase(e: Env): Promise<void> {
  await e.sandbox.source.server.execute(['CREATE DATABASE crm', 'CREATE TABLE crm.leads (id INT PRIMARY KEY)', 'INSERT INTO crm.leads VALUES (1)'])
}

async function replicaVariable(e: Env, name: string): Promise<string> {
  const [row] = await e.sandbox.replica.server.query<Array<{v: unknown}>>(`SELECT @@global.${name} AS v`)
  return String(row!.v)
}

describe('the server parameters are absent from ARM', () => {
  let e: Env
  beforeAll(async () => {
    e = await newEnv({sampleRows: 30, withoutParameters: PARAMETERS})
    await addUncopiedDatabase(e)
  })
  afterAll(() => dispose(e))

  it('a subset is refused by init and start, naming the parameter and --unfiltered-subset', async () => {
    const refused = await checkOf(e, ['init', '--databases', 'shop'], 'database-filter', 1)
    expect(refused.status).toBe('fail')
    expect(refused.message).toMatch(/offers no replicate_wild_ignore_table parameter/)
    expect(refused.message).toMatch(/the 1 database left out \(crm\)/)
    expect(refused.fix).toMatch(/--unfiltered-subset/)
    const start = await e.run(['start', '--json'])
    expect(start.exitCode, start.stdout).toBe(1)
    expect(start.stdout + start.stderr).toMatch(/replicate_wild_ignore_table/)
  })

  it('file mode (--no-gtid) fails preflight, saying to use GTID', async () => {
    const refused = await checkOf(e, ['init', '--force', '--no-gtid'], 'sync-info-parameters', 1)
    expect(refused).toMatchObject({status: 'fail', message: expect.stringMatching(/offers no sync_master_info or sync_relay_log_info parameter/)})
    expect(refused.fix).toMatch(/GTID/)
  })

  it('with --unfiltered-subset, a subset in GTID mode is set up with a warning, and replicates', async () => {
    const warned = await checkOf(e, ['init', '--force', '--databases', 'shop', '--unfiltered-subset'], 'database-filter', 0)
    expect(warned.status).toBe('warn')
    expect(warned.message).toMatch(/--unfiltered-subset/)
    expect((await checkOf(e, ['init', '--force', '--databases', 'shop', '--unfiltered-subset'], 'sync-info-parameters', 0)).status).toBe('pass')
    const start = await e.run(['start'])
    expect(start.exitCode, start.stderr).toBe(0)
    expect(await replicaVariable(e, 'replicate_wild_ignore_table')).toBe('')
    await e.sandbox.source.server.query("INSERT INTO shop.daily_sales (day, order_count, revenue) VALUES ('2036-01-01', 1, 1)")
    await expectIdentical(e)
    expect((await json<{state: string}>(e, ['status'])).state).toBe('healthy')
  })
})

describe('the server parameters are present in ARM', () => {
  let e: Env
  beforeAll(async () => {
    e = await newEnv({sampleRows: 30})
    await addUncopiedDatabase(e)
  })
  afterAll(() => dispose(e))

  it('a subset in file mode passes init, and start sets the filter and sync_* through ARM', async () => {
    const args = ['init', '--databases', 'shop', '--no-gtid']
    expect(await checkOf(e, args, 'database-filter', 0)).toMatchObject({status: 'pass', message: expect.stringMatching(/will set replicate_wild_ignore_table to 'crm\.%'/)})
    expect((await checkOf(e, [...args, '--force'], 'sync-info-parameters', 0)).status).toBe('pass')
    const start = await e.run(['start'])
    expect(start.exitCode, start.stderr).toBe(0)
    expect(await replicaVariable(e, 'replicate_wild_ignore_table')).toBe('crm.%')
    expect([await replicaVariable(e, 'sync_master_info'), await replicaVariable(e, 'sync_relay_log_info')]).toEqual(['1', '1'])
    // A write to the database left out must not stop replication (error 1146 without the filter).
    await e.sandbox.source.server.query('INSERT INTO crm.leads VALUES (2)')
    await e.sandbox.source.server.query("INSERT INTO shop.daily_sales (day, order_count, revenue) VALUES ('2036-01-02', 1, 1)")
    await expectIdentical(e)
    expect((await json<{state: string}>(e, ['status'])).state).toBe('healthy')
  })
})
