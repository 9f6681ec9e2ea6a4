import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {DatainError} from '../../src/lib/errors.js'
import {RULE_APPLY_TIMEOUT_MS, waitForReplicaAccess} from '../../src/azure/replica-access.js'
import {armClient, armError, readArmServer, type AzureTarget} from '../../src/azure/arm.js'
import {datain, sandboxUserEnv} from '../helpers/datain.js'
import {allowLoopback} from '../helpers/preflight.js'
import {stepContextFor, type StepContextOptions, type TestStepContext} from '../helpers/step-context.js'

/** Azure as the real service behaves (issue 14): the rule delay, the retirement, the host from ARM. */

let sandbox: Sandbox
let home: string
const contexts: TestStepContext[] = []

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
})

afterAll(async () => {
  await sandbox?.stop()
})

beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'datain-real-azure-'))
  sandbox.azure.state.firewallRules.clear()
  sandbox.azure.arm.clearFaults()
  sandbox.azure.arm.providerGone = undefined
  sandbox.azure.arm.fqdn = '127.0.0.1'
})

afterEach(async () => {
  for (const ctx of contexts.splice(0)) await ctx.close()
  await rm(home, {recursive: true, force: true})
})

async function context(options: Partial<StepContextOptions> = {}): Promise<TestStepContext> {
  const ctx = await stepContextFor(sandbox, {home, profile: 'real', ...options, settings: {source: {ip: '20.50.1.7'}, ...options.settings}})
  contexts.push(ctx)
  return ctx
}

async function failure(promise: Promise<unknown>): Promise<DatainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DatainError)
  return error as DatainError
}

describe('a new firewall rule can take five minutes on Azure', () => {
  it('waits up to 5 min by default, and the status line says how long so far and the bound', async () => {
    expect(RULE_APPLY_TIMEOUT_MS).toBe(300_000)
    const ctx = await context()
    const waiting = waitForReplicaAccess(ctx, {ip: '127.0.0.1', rule: 'datain-real-client'})
    // The first lines come at once, then after 0.5, 1 and 2 s of back-off: aborted once the wait has
    // gone on for a second (by its own account, not a fixed delay that a loaded machine outruns).
    const aborting = (async () => {
      for (let i = 0; i < 300 && !/: [1-9]\.\d s so far/.test(ctx.statuses.at(-1) ?? ''); i++) await new Promise((r) => setTimeout(r, 100))
      ctx.controller.abort(new Error('interrupted'))
    })()
    await expect(waiting).rejects.toThrow('interrupted')
    await aborting
    expect(ctx.statuses[0]).toMatch(/datain-real-client .*: 0\.\d s so far, up to 5 min/)
    expect(ctx.statuses.at(-1)).toMatch(/: [1-9]\.\d s so far, up to 5 min/)
  })

  it('gives up after an injected bound, naming it', async () => {
    const ctx = await context()
    const error = await failure(waitForReplicaAccess(ctx, {ip: '127.0.0.1', rule: 'datain-real-client', timeoutMs: 1200}))
    expect(error.code).toBe('E_REPLICA_FIREWALL')
    expect(error.message).toContain('after 1.2 s')
    expect(ctx.statuses.every((s) => s.includes('up to 1.2 s'))).toBe(true)
  })

  it('the dry-run plan says it would wait up to 5 min', async () => {
    const ctx = await context()
    const actions = await ctx.target.network.plan(ctx)
    expect(actions.map((a) => a.text)).toContain('retry connecting until the gateway lets 127.0.0.1 in (up to 5 min)')
  })
})

describe('the retirement of Azure Database for MariaDB', () => {
  const target = (server = sandbox.replica.serverName): AzureTarget => ({
    subscription: sandbox.azure.subscriptionId,
    resourceGroup: sandbox.azure.resourceGroup,
    server,
    endpoint: sandbox.azure.arm.url,
  })
  const token = () => sandbox.azure.token
  const read = (t: AzureTarget) => readArmServer({client: armClient(t, {getToken: async () => ({token: token(), expiresOnTimestamp: Date.now() + 3_600_000})}), target: t})

  it('a server ARM does not know: a wrong name, or the retired service; --target mariadb serves what remains (exit 2)', async () => {
    const error = await failure(read(target('no-such-server')))
    expect(error.code).toBe('E_ARM_NOT_FOUND')
    expect(error.oclif.exit).toBe(2)
    expect(error.message).toContain("no Azure Database for MariaDB server 'no-such-server'")
    expect(error.message).toContain('the name is wrong (--server)')
    expect(error.message).toContain('retired Azure Database for MariaDB on 2025-09-19')
    expect(error.message).toContain('--target mariadb')
  })

  it.each([
    {status: 400, code: 'NoRegisteredProviderFound'},
    {status: 404, code: 'InvalidResourceNamespace'},
  ] as const)('a provider ARM no longer serves ($status $code) says the service was retired (exit 2)', async (gone) => {
    sandbox.azure.arm.providerGone = gone
    const error = await failure(read(target()))
    expect(error.code).toBe('E_ARM_NOT_FOUND')
    expect(error.oclif.exit).toBe(2)
    expect(error.message).toContain(`no longer serves Azure Database for MariaDB (${gone.status} ${gone.code}`)
    expect(error.message).toContain('retired Azure Database for MariaDB on 2025-09-19')
    expect(error.message).toContain("'datain init --target mariadb'")
  })

  it('a bare 404 on the provider path reads as the server or the service gone', async () => {
    sandbox.azure.arm.providerGone = {status: 404, code: 'NotFound'}
    const error = await failure(read(target()))
    expect(error.code).toBe('E_ARM_NOT_FOUND')
    expect(error.message).toContain('retired Azure Database for MariaDB on 2025-09-19')
  })

  it('missing credentials say how to sign in to another cloud', () => {
    const error = armError(target(), 'read the server', Object.assign(new Error('no credential'), {name: 'CredentialUnavailableError'}))
    expect(error.code).toBe('E_ARM_CREDENTIALS')
    expect(error.message).toContain('AZURE_AUTHORITY_HOST')
    expect(error.message).toContain('az cloud set')
  })
})

describe("the replica's host from ARM", () => {
  /** `datain init` as a user runs it who gives no --replica-host. */
  async function initWithoutHost(profile: string): Promise<{exitCode: number; stdout: string; stderr: string}> {
    allowLoopback(sandbox)
    const env: Record<string, string | undefined> = {...sandboxUserEnv(sandbox, home), DATAIN_REPLICA_HOST: undefined}
    return datain(['init', '--profile', profile, '--json'], env)
  }
  const recordedHost = async (profile: string) =>
    (JSON.parse(await readFile(path.join(home, 'profiles', profile, 'settings.json'), 'utf8')) as {replica: {host: string}}).replica.host

  it("takes the server's fullyQualifiedDomainName (sovereign clouds have other domains)", async () => {
    // The emulated server's name is its gateway's address; <server>.mariadb.database.azure.com would not resolve.
    const result = await initWithoutHost('fqdn')
    expect(result.exitCode, result.stdout + result.stderr).toBeLessThanOrEqual(1)
    expect(await recordedHost('fqdn')).toBe('127.0.0.1')
  })

  it('falls back to <server>.mariadb.database.azure.com when ARM gives no name', async () => {
    sandbox.azure.arm.fqdn = ''
    const result = await initWithoutHost('no-fqdn')
    expect(result.exitCode).toBe(4)
    expect(result.stdout).toContain(`${sandbox.replica.serverName}.mariadb.database.azure.com`)
  })

  it('refuses a name from ARM that is no host name, saying where it came from (exit 2)', async () => {
    sandbox.azure.arm.fqdn = 'db one; DROP'
    const result = await initWithoutHost('bad-fqdn')
    expect(result.exitCode).toBe(2)
    const error = (JSON.parse(result.stdout) as {error: {code: string; message: string}}).error
    expect(error.code).toBe('E_ARM_HOST')
    expect(error.message).toContain('Azure Resource Manager gives the server')
    expect(error.message).toContain('--replica-host')
  })
})
