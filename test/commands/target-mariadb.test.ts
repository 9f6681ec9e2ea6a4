/**
 * `--target mariadb`: the whole life against a plain MariaDB replica (the sandbox's plain mode: no
 * gateway, no ARM, no procedures, an admin with the replication privileges but not SUPER), run as
 * users run it, in GTID and in file/position mode.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import type {CliResult} from '../helpers/datain.js'
import {dispose, type Env as TargetEnv, newTargetEnv, waitUntil} from '../stop/helpers.js'

type Env = TargetEnv<AnySandbox>

async function checksums(server: AnySandbox['source']['server']): Promise<string> {
  const rows = await server.query<Array<{Table: string; Checksum: bigint | null}>>('CHECKSUM TABLE shop.customers, shop.orders, shop.order_items, shop.products')
  return rows.map((r) => `${r.Table}=${r.Checksum}`).join(',')
}

const json = <T>(result: CliResult): T => JSON.parse(result.stdout) as T

describe.each([
  {mode: 'GTID', initArgs: []},
  {mode: 'file/position', initArgs: ['--no-gtid']},
])('--target mariadb, $mode', ({initArgs}) => {
  let e: Env
  beforeAll(async () => {
    e = await newTargetEnv('mariadb', {sampleRows: 200})
  }, 120_000)
  afterAll(() => dispose(e))

  it('init refuses a hostile --target or --link-ssl-ca: exit 2, one paragraph, no control character echoed, no profile recorded', async () => {
    const cases: Array<{args: string[]; says: RegExp}> = [
      {args: ['--target', 'azure'], says: /--target/},
      {args: ['--target', 'mariadb\u001b[2J'], says: /--target/},
      {args: ['--link-ssl-ca', 'relative/ca.pem'], says: /--link-ssl-ca.*absolute path/s},
      {args: ['--link-ssl-ca', '/etc/ca.pem\n-- MASTER_SSL = 0'], says: /--link-ssl-ca.*without control characters/s},
      {args: ['--link-ssl-ca', `/${'a'.repeat(600)}`], says: /--link-ssl-ca.*at most 511/s},
      {args: ['--target', 'azure-mariadb', '--link-ssl-ca', '/etc/ca.pem'], says: /--link-ssl-ca: only goes with --target mariadb/},
    ]
    for (const {args, says} of cases) {
      const r = await e.run(['init', '-p', 'hostile', ...args])
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(says)
      expect(r.stderr).not.toMatch(/\n\s+at /)
      expect(r.stderr).not.toContain('\u001b[2J')
      expect(r.stderr).not.toContain('\n-- MASTER_SSL')
    }
    const profiles = await e.run(['profiles', '--json'])
    expect(json<{profiles: Array<{name: string}>}>(profiles).profiles.map((p) => p.name)).not.toContain('hostile')
  }, 60_000)

  it('init: Azure checks not applicable, the replica privileges checked, no Azure flag taken', async () => {
    const refused = await e.run(['init', '-p', 'wrong', '--subscription', 'x'])
    expect(refused.exitCode).toBe(2)
    expect(refused.stderr).toContain('mariadb takes no Azure flag')

    const init = await e.run(['init', ...initArgs, '--json'])
    expect(init.exitCode, init.stderr).toBe(0)
    const report = json<{passed: boolean; counts: Record<string, number>; checks: Array<{id: string; status: string; message: string}>}>(init)
    const status = (id: string) => report.checks.find((c) => c.id === id)?.status
    expect([status('procedures'), status('tier'), status('firewall-rules')]).toEqual(['not-applicable', 'not-applicable', 'not-applicable'])
    // The sandbox's admin lacks SUPER on purpose: only `datain skip` needs it, and the check says so.
    expect(status('replica-privileges')).toBe('warn')
    expect(report.checks.find((c) => c.id === 'replica-privileges')?.message).toMatch(/lacks privileges some commands need/)
    expect(report.counts['not-applicable']).toBe(3)

    const profiles = await e.run(['profiles', '--json'])
    expect(profiles.exitCode, profiles.stderr).toBe(0)
    expect(json<{profiles: Array<{name: string; target: string}>}>(profiles).profiles).toContainEqual(expect.objectContaining({name: 'default', target: 'mariadb'}))
  }, 60_000)

  it('start: copies, links with CHANGE MASTER TO over verified TLS, replicates; the plan and the outputs never hold the password', async () => {
    const plan = await e.run(['start', '--dry-run'])
    expect(plan.exitCode, plan.stderr).toBe(0)
    expect(plan.stdout).toMatch(/CHANGE MASTER TO MASTER_HOST = '127\.0\.0\.1', MASTER_PORT = \d+, MASTER_USER = 'datain_repl', MASTER_PASSWORD = \*\*\*, MASTER_SSL = 1, MASTER_SSL_CA = /)
    expect(plan.stdout).toMatch(/not applicable to this target/)

    const start = await e.run(['start'])
    expect(start.exitCode, start.stderr).toBe(0)
    const [slave] = await e.sandbox.replica.server.query<Array<Record<string, unknown>>>('SHOW SLAVE STATUS')
    expect([slave?.Slave_IO_Running, slave?.Slave_SQL_Running, slave?.Master_SSL_Verify_Server_Cert]).toEqual(['Yes', 'Yes', 'Yes'])
    expect(slave?.Using_Gtid).toBe(initArgs.includes('--no-gtid') ? 'No' : 'Slave_Pos')

    await e.sandbox.source.server.query("UPDATE shop.orders SET `delivery note` = 'after the copy' WHERE id = 1")
    await waitUntil(async () => (await checksums(e.sandbox.replica.server)) === (await checksums(e.sandbox.source.server)))

    const status = await e.run(['status', '--json'])
    expect(status.exitCode, status.stdout).toBe(0)
    expect(json<{replication: {io: string; sql: string}}>(status).replication).toMatchObject({io: 'running', sql: 'running'})

    // Run again: every step safe to repeat, nothing done twice.
    const again = await e.run(['start'])
    expect(again.exitCode, again.stderr).toBe(0)
  }, 180_000)

  it('stop --remove --cleanup: the link gone (RESET SLAVE ALL), the replication user dropped, the parameters datain set put back', async () => {
    const stop = await e.run(['stop', '--remove', '--cleanup', '--json'])
    expect(stop.exitCode, stop.stdout + stop.stderr).toBe(0)
    expect(await e.sandbox.replica.server.query('SHOW SLAVE STATUS')).toEqual([])
    const users = await e.sandbox.source.server.query<Array<{n: bigint}>>("SELECT COUNT(*) AS n FROM mysql.user WHERE User = 'datain_repl'")
    expect(users[0]!.n).toBe(0n)
    const [sync] = await e.sandbox.replica.server.query<Array<{v: bigint}>>('SELECT @@global.sync_master_info AS v')
    // File mode set it to 1 for the link; the cleanup puts back the server's default.
    expect(Number(sync!.v)).toBe(10000)

    for (const text of e.outputs) {
      expect(text).not.toContain(e.sandbox.source.password)
      expect(text).not.toContain(e.sandbox.replica.password)
    }
  }, 120_000)
})
