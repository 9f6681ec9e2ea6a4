/**
 * Replicas and sources the DBA administers, set up as many are: no TLS for datain's own connection
 * (`--replica-ssl off`, refused for Azure), kept read-only as replicas often are, and a subset of
 * databases so that a replication filter is set and later put back to its empty value.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import {PLAIN_REPLICA_ADMIN} from '../../sandbox/plain-replica.js'
import {type CliResult, datain} from '../helpers/datain.js'
import {dispose, type Env as TargetEnv, expectNoSecrets, newTargetEnv} from '../stop/helpers.js'

type Env = TargetEnv<AnySandbox>

const json = <T>(result: CliResult): T => JSON.parse(result.stdout) as T

/** The env of the sandbox's user, less the variables a DBA without TLS to the replica does not set. */
const plainEnv = (e: Env, unset: string[] = ['DATAIN_REPLICA_SSL_CA']) => Object.fromEntries(Object.entries(e.env).filter(([k]) => !unset.includes(k)))

async function run(e: Env, args: string[], unset?: string[]): Promise<CliResult> {
  const result = await datain(args, plainEnv(e, unset))
  e.outputs.push(result.stdout, result.stderr)
  return result
}

describe('--target mariadb with --replica-ssl off, a read-only replica and a subset of databases', () => {
  let e: Env
  beforeAll(async () => {
    e = await newTargetEnv('mariadb', {sampleRows: 100})
    // A database left out of the copy, so that the replica gets a filter (and the cleanup its empty value back).
    await e.sandbox.source.server.execute(['CREATE DATABASE left_out', 'CREATE TABLE left_out.t (i INT PRIMARY KEY)'])
  }, 120_000)
  afterAll(() => dispose(e))

  it('init refuses --replica-ssl off for Azure, with --replica-ssl-ca, and a value that is neither on nor off: exit 2, no profile', async () => {
    const cases: Array<{args: string[]; says: RegExp; unset?: string[]}> = [
      {args: ['--target', 'azure-mariadb', '--replica-ssl', 'off'], says: /--replica-ssl: off only goes with --target mariadb/, unset: ['DATAIN_REPLICA_SSL_CA', 'DATAIN_LINK_SSL_CA']},
      {args: ['--replica-ssl', 'off', '--replica-ssl-ca', e.sandbox.replica.sslCa], says: /'off' contradicts --replica-ssl-ca/},
      {args: ['--replica-ssl', 'plain\u001b[2J'], says: /--replica-ssl/},
    ]
    for (const {args, says, unset} of cases) {
      const r = await run(e, ['init', '-p', 'refused', ...args], unset)
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(says)
      expect(r.stderr).not.toMatch(/\n\s+at /)
      expect(r.stderr).not.toContain('\u001b[2J')
    }
    const profiles = json<{profiles: Array<{name: string}>}>(await e.run(['profiles', '--json']))
    expect(profiles.profiles.map((p) => p.name)).not.toContain('refused')
  }, 60_000)

  it('connects in plain text indeed: an admin that must use TLS is refused, with the reason, and nothing is recorded as passed', async () => {
    const root = e.sandbox.replica.server
    await root.query(`ALTER USER '${PLAIN_REPLICA_ADMIN}'@'%' REQUIRE SSL`)
    try {
      const r = await run(e, ['init', '-p', 'plain', '--replica-ssl', 'off', '--databases', 'shop'])
      expect(r.exitCode, r.stderr).toBe(4)
      expect(r.stderr).toMatch(/refused the login/)
    } finally {
      await root.query(`ALTER USER '${PLAIN_REPLICA_ADMIN}'@'%' REQUIRE NONE`)
    }
  }, 60_000)

  it('a read-only replica: init fails the privileges check until the admin holds READ_ONLY ADMIN (SUPER no longer has it in 10.11); nothing is written', async () => {
    await e.sandbox.replica.server.query('SET GLOBAL read_only = 1')
    const refused = await run(e, ['init', '--force', '--replica-ssl', 'off', '--databases', 'shop', '--json'])
    expect(refused.exitCode, refused.stderr).toBe(1)
    const check = json<{checks: Array<{id: string; status: string; offenders?: string[]; fix?: string}>}>(refused).checks.find((c) => c.id === 'replica-privileges')
    expect(check?.status).toBe('fail')
    expect(check?.offenders?.[0]).toMatch(/^READ_ONLY ADMIN: for the replica is read-only \(read_only=ON\)/)
    expect(check?.fix).toMatch(/GRANT READ_ONLY ADMIN/)
    const start = await run(e, ['start'])
    expect(start.exitCode).toBe(1)
    const [databases] = await e.sandbox.replica.server.query<Array<{n: bigint}>>("SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'")
    expect(Number(databases?.n)).toBe(0)
  }, 120_000)

  it('init warns that the replica link is plain text; start copies and replicates; every command repeats the warning', async () => {
    await e.sandbox.replica.server.query(`GRANT READ_ONLY ADMIN ON *.* TO '${PLAIN_REPLICA_ADMIN}'@'%'`)
    const init = await run(e, ['init', '--force', '--replica-ssl', 'off', '--databases', 'shop', '--json'])
    expect(init.exitCode, init.stderr).toBe(0)
    const report = json<{checks: Array<{id: string; status: string; message: string}>}>(init)
    const check = report.checks.find((c) => c.id === 'replica-tls-verify')
    expect(check?.status).toBe('warn')
    expect(check?.message).toMatch(/plain text \(--replica-ssl off\).*CHANGE MASTER TO/)

    const start = await run(e, ['start'])
    expect(start.exitCode, start.stderr).toBe(0)
    expect(start.stderr).toMatch(/connects to the replica in plain text/)
    const [filter] = await e.sandbox.replica.server.query<Array<{v: string}>>('SELECT @@global.replicate_wild_ignore_table AS v')
    expect(filter?.v).not.toBe('')
    const status = await run(e, ['status'])
    expect(status.exitCode, status.stderr).toBe(0)
    expect(status.stderr).toMatch(/plain text \(--replica-ssl off\)/)
  }, 180_000)

  it('the cutover says that the replica is still read-only, and how to open it to the application; the cleanup names the empty value it put back', async () => {
    const cutover = await run(e, ['stop', '--cutover', '--json'])
    expect(cutover.exitCode, cutover.stderr).toBe(0)
    expect(json<{cutover: {replicaReadOnly: boolean}}>(cutover).cutover.replicaReadOnly).toBe(true)
    const again = await run(e, ['stop', '--cutover'])
    expect(again.exitCode, again.stderr).toBe(0)

    const cleanup = await run(e, ['stop', '--remove', '--cleanup'])
    expect(cleanup.exitCode, cleanup.stderr).toBe(0)
    expect(cleanup.stdout).toMatch(/Server parameter replicate_wild_ignore_table: put back to '' \(empty\)/)
    const [filter] = await e.sandbox.replica.server.query<Array<{v: string}>>('SELECT @@global.replicate_wild_ignore_table AS v')
    expect(filter?.v).toBe('')
    expectNoSecrets(e)
  }, 180_000)

  it('a fresh cutover on a read-only replica prints the line to open it', async () => {
    const other = await newTargetEnv('mariadb', {sampleRows: 50})
    try {
      await other.sandbox.replica.server.query('SET GLOBAL read_only = 1')
      await other.sandbox.replica.server.query(`GRANT READ_ONLY ADMIN ON *.* TO '${PLAIN_REPLICA_ADMIN}'@'%'`)
      const init = await run(other, ['init', '--replica-ssl', 'off'])
      expect(init.exitCode, init.stderr).toBe(0)
      const start = await run(other, ['start'])
      expect(start.exitCode, start.stderr).toBe(0)
      const cutover = await run(other, ['stop', '--cutover'])
      expect(cutover.exitCode, cutover.stderr).toBe(0)
      expect(cutover.stdout).toContain('The replica is read-only (read_only=ON): the application cannot write to it until, on the replica: SET GLOBAL read_only = OFF;')
    } finally {
      await dispose(other)
    }
  }, 240_000)
})

describe('--target mariadb with a source whose certificate a system CA signed (no --source-ssl-ca)', () => {
  let e: Env
  beforeAll(async () => {
    e = await newTargetEnv('mariadb', {sampleRows: 50})
  }, 120_000)
  afterAll(() => dispose(e))

  it("passes the TLS check (the replica's link is given no CA text; --link-ssl-ca verifies), links over verified TLS and replicates", async () => {
    // NODE_EXTRA_CA_CERTS plays the system's CA store: the sandbox's CA is not in this machine's.
    const systemCa = {NODE_EXTRA_CA_CERTS: e.sandbox.source.sslCa}
    const init = await datain(['init', '--json'], {...plainEnv(e, ['DATAIN_SOURCE_SSL_CA']), ...systemCa})
    expect(init.exitCode, init.stderr).toBe(0)
    const check = json<{checks: Array<{id: string; status: string; message: string}>}>(init).checks.find((c) => c.id === 'source-tls')
    expect(check?.status).toBe('pass')
    expect(check?.message).toMatch(/verified against the system's CAs/)
    const start = await datain(['start'], {...plainEnv(e, ['DATAIN_SOURCE_SSL_CA']), ...systemCa})
    expect(start.exitCode, start.stderr).toBe(0)
    const [slave] = await e.sandbox.replica.server.query<Array<Record<string, unknown>>>('SHOW SLAVE STATUS')
    expect([slave?.Slave_IO_Running, slave?.Slave_SQL_Running, slave?.Master_SSL_Allowed, slave?.Master_SSL_Verify_Server_Cert]).toEqual(['Yes', 'Yes', 'Yes', 'Yes'])
  }, 180_000)
})
