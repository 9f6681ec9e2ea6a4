import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {datain} from '../helpers/datain.js'
import {allowLoopback} from '../helpers/preflight.js'

/** datain's own connection to the source is TLS, verified, unless a profile says `--source-ssl off`. */

interface Env {
  sandbox: Sandbox
  home: string
  env: Record<string, string>
}

async function newEnv(options: Parameters<typeof startSandbox>[0] = {}): Promise<Env> {
  const sandbox = await startSandbox({sampleRows: 20, ...options})
  allowLoopback(sandbox)
  const home = await mkdtemp(path.join(tmpdir(), 'datain-tls-'))
  return {sandbox, home, env: {...sandbox.env(), DATAIN_HOME: home}}
}

async function dispose(e: Env | undefined): Promise<void> {
  if (!e) return
  await e.sandbox.stop()
  await rm(e.home, {recursive: true, force: true})
}

interface InitJson {
  passed: boolean
  checks: Array<{id: string; status: string; message: string; fix?: string}>
}

const check = (stdout: string, id: string) => (JSON.parse(stdout) as InitJson).checks.find((c) => c.id === id)
const errorOf = (stdout: string) => (JSON.parse(stdout) as {error: {code: string; message: string}}).error
const oneParagraph = (text: string) => text.replace(/\s*›\s*/g, ' ')

describe('a source that speaks TLS', () => {
  let e: Env
  beforeAll(async () => {
    e = await newEnv()
  })
  afterAll(() => dispose(e))

  it('is verified against --source-ssl-ca, and the report says so', async () => {
    const init = await datain(['init', '-p', 'ca', '--json'], e.env)
    expect(init.exitCode, init.stderr).toBe(0)
    expect(check(init.stdout, 'source-tls')).toMatchObject({status: 'pass', message: expect.stringContaining('verified against --source-ssl-ca')})
  })

  it("without --source-ssl-ca is still TLS, verified against the system's CAs: a certificate they do not know is refused", async () => {
    const env = {...e.env, DATAIN_SOURCE_SSL_CA: undefined}
    const refused = await datain(['init', '-p', 'no-ca', '--json'], env)
    expect(refused.exitCode).toBe(4)
    expect(errorOf(refused.stdout)).toMatchObject({code: 'E_SOURCE_TLS', message: expect.stringContaining('--source-ssl-ca')})

    // A CA the system trusts: datain connects, and init asks for the file the replica needs.
    // NODE_EXTRA_CA_CERTS already names the Azure CA (for ARM's HTTPS): a bundle of both.
    const bundle = path.join(e.home, 'both-cas.pem')
    await writeFile(bundle, `${await readFile(e.sandbox.replica.sslCa, 'utf8')}\n${await readFile(e.sandbox.source.sslCa, 'utf8')}`)
    const trusted = await datain(['init', '-p', 'system-ca', '--json'], {...env, NODE_EXTRA_CA_CERTS: bundle})
    expect(trusted.exitCode, trusted.stderr).toBe(1)
    expect(check(trusted.stdout, 'source-tls')).toMatchObject({status: 'fail', message: expect.stringContaining("verified against the system's CAs")})
  })

  it('--no-replica-ssl-verify is a WARN check in init and a warning line on every later command', async () => {
    const init = await datain(['init', '-p', 'noverify', '--no-replica-ssl-verify', '--json'], e.env)
    expect(init.exitCode, init.stderr).toBe(0)
    expect(check(init.stdout, 'replica-tls-verify')).toMatchObject({status: 'warn'})
    const human = await datain(['init', '-p', 'noverify', '--no-replica-ssl-verify'], e.env)
    expect(human.stderr).toContain("does not verify the replica's TLS certificate")
    const status = await datain(['status', '-p', 'noverify'], e.env)
    expect(status.stderr).toContain("does not verify the replica's TLS certificate")
    const plan = await datain(['start', '-p', 'noverify', '--dry-run'], e.env)
    expect(plan.stderr).toContain("does not verify the replica's TLS certificate")
  })

  it('refuses --source-ssl off together with --source-ssl-ca, and any other value (exit 2)', async () => {
    const both = await datain(['init', '-p', 'both', '--source-ssl', 'off'], e.env)
    expect(both.exitCode).toBe(2)
    expect(oneParagraph(both.stderr)).toContain("--source-ssl: 'off' contradicts --source-ssl-ca")
    const other = await datain(['init', '-p', 'other', '--source-ssl', 'maybe'], e.env)
    expect(other.exitCode).toBe(2)
  })
})

describe('a source without TLS', () => {
  let e: Env
  beforeAll(async () => {
    e = await newEnv({source: {tls: false}})
  })
  afterAll(() => dispose(e))

  it('is refused unless the profile says --source-ssl off, in one paragraph naming both ways out', async () => {
    const refused = await datain(['init', '-p', 'plain'], {...e.env, DATAIN_SOURCE_SSL_CA: undefined})
    expect(refused.exitCode).toBe(4)
    const text = oneParagraph(refused.stderr)
    expect(text).toContain('does not speak TLS')
    expect(text).toContain("'datain init --force --source-ssl off'")
    expect(text).toContain('--source-ssl-ca')
    expect(text).not.toMatch(/\n\s+at /)
  })

  it('with --source-ssl off: a WARN check and a warning line, and a replication user without REQUIRE SSL', async () => {
    const env = {...e.env, DATAIN_SOURCE_SSL_CA: undefined, DATAIN_SOURCE_SSL: 'off'}
    const init = await datain(['init', '-p', 'off', '--json'], env)
    expect(init.exitCode, init.stderr + init.stdout).toBe(0)
    expect(check(init.stdout, 'source-tls')).toMatchObject({status: 'warn', message: expect.stringContaining('plain text (--source-ssl off)')})
    const human = await datain(['init', '-p', 'off'], env)
    expect(human.stderr).toContain('connects to the source in plain text')

    // Killed once the user exists: its grants are what matters here.
    const start = await datain(['start', '-p', 'off'], {...env, DATAIN_TEST_CRASH_AT: 'firewall:start'})
    expect(start.exitCode).not.toBe(0)
    const rows = await e.sandbox.source.server.query<Array<Record<string, string>>>("SHOW GRANTS FOR 'datain_repl'@'%'")
    const grant = Object.values(rows[0]!)[0]!
    expect(grant).toContain('REPLICATION SLAVE')
    expect(grant).not.toContain('REQUIRE SSL')
  })
})
