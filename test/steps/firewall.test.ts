import fc from 'fast-check'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {DatainError} from '../../src/lib/errors.js'
import {firewallRuleName} from '../../src/azure/firewall-rules.js'
import {waitForReplicaAccess} from '../../src/azure/replica-access.js'
import {numberToIpv4, SPECIAL_PURPOSE_BLOCKS} from '../../src/lib/ip-ranges.js'
import {firewallStep} from '../../src/steps/firewall.js'
import type {Step} from '../../src/steps/step.js'
import {runStep, stepContextFor, type StepContextOptions, type TestStepContext} from '../helpers/step-context.js'

let sandbox: Sandbox
let home: string
const contexts: TestStepContext[] = []

/** A public address for the source (documentation ranges are refused), so that its rule and datain's own are two. */
const SOURCE_IP = '20.50.1.7'

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
})

afterAll(async () => {
  await sandbox?.stop()
})

beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'datain-firewall-'))
  // Every test starts with a replica whose firewall lets nobody in, as a new Azure server.
  sandbox.azure.state.firewallRules.clear()
  sandbox.azure.arm.lroMode = 'sync'
  sandbox.azure.arm.clearFaults()
})

afterEach(async () => {
  for (const ctx of contexts.splice(0)) await ctx.close()
  await rm(home, {recursive: true, force: true})
})

async function context(options: Partial<StepContextOptions> = {}): Promise<TestStepContext> {
  const ctx = await stepContextFor(sandbox, {home, profile: 'fw', ...options, settings: {source: {ip: SOURCE_IP}, ...options.settings}})
  contexts.push(ctx)
  return ctx
}

async function end(ctx: TestStepContext): Promise<void> {
  contexts.splice(contexts.indexOf(ctx), 1)
  await ctx.close()
}

const rules = () =>
  [...sandbox.azure.state.firewallRules.values()].map((r) => `${r.name} ${r.startIpAddress}-${r.endIpAddress}`).sort()

const addRule = (name: string, start: string, end = start) => sandbox.azure.state.firewallRules.set(name, {name, startIpAddress: start, endIpAddress: end})

/** ARM requests from now on: `() => [...]` of `METHOD path-tail status`. */
function armRequests(): () => string[] {
  const from = sandbox.azure.arm.requestLog.length
  return () => sandbox.azure.arm.requestLog.slice(from).map((e) => `${e.method} ${e.path.split('/').slice(-2).join('/')} ${e.status}`)
}

async function failure(promise: Promise<unknown>): Promise<DatainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DatainError)
  return error as DatainError
}

async function canQueryReplica(ctx: TestStepContext): Promise<boolean> {
  const [row] = (await (await ctx.replica()).query('SELECT 1 AS one')) as Array<{one: number}>
  return row?.one === 1
}

describe('the firewall step', () => {
  it("learns this machine's address from the gateway's error 9000, adds datain's two rules, and gets in", async () => {
    const ctx = await context()
    const requests = armRequests()
    const output = await runStep(ctx, firewallStep)
    expect(output).toEqual({
      sourceIp: SOURCE_IP,
      clientIp: '127.0.0.1',
      createdRules: ['datain-fw-source', 'datain-fw-client'],
      // What stop --cleanup checks before it deletes a rule of datain's name.
      createdRanges: [
        {name: 'datain-fw-source', startIpAddress: SOURCE_IP, endIpAddress: SOURCE_IP},
        {name: 'datain-fw-client', startIpAddress: '127.0.0.1', endIpAddress: '127.0.0.1'},
      ],
      reusedRules: [],
      managed: true,
    })
    expect(rules()).toEqual([`datain-fw-client 127.0.0.1-127.0.0.1`, `datain-fw-source ${SOURCE_IP}-${SOURCE_IP}`])
    expect(sandbox.gateway.refused).toContain('127.0.0.1')
    expect(requests().filter((r) => r.startsWith('PUT'))).toHaveLength(2)
    expect(await canQueryReplica(ctx)).toBe(true)
    expect((await ctx.store.readCheckpoint()).steps.firewall).toMatchObject({state: 'done', output: {createdRules: output.createdRules}})
    const journal = await ctx.store.readJournal()
    expect(journal.filter((e) => e.event === 'firewall-rule').map((e) => e.name)).toEqual(['datain-fw-source', 'datain-fw-client'])
  })

  it('run twice, and by a second process, still makes one rule per address and no ARM write', async () => {
    let ctx = await context()
    const first = await runStep(ctx, firewallStep)
    const requests = armRequests()
    // The gateway lets datain in now, so it names no address: the rest is the same.
    const again = {...first, clientIp: null}
    expect(await runStep(ctx, firewallStep)).toEqual(again)
    await end(ctx)
    ctx = await context()
    expect(await runStep(ctx, firewallStep)).toEqual(again)
    expect(rules()).toHaveLength(2)
    expect(requests().filter((r) => !r.startsWith('GET'))).toEqual([])
  })

  it("reuses an existing rule that covers the source's address and does not record it as datain's", async () => {
    addRule('office', '127.0.0.0', '127.0.0.255')
    const ctx = await context({settings: {source: {ip: '127.0.0.1'}}})
    const requests = armRequests()
    const output = await runStep(ctx, firewallStep)
    expect(output).toMatchObject({sourceIp: '127.0.0.1', clientIp: null, createdRules: [], reusedRules: ['office']})
    expect(rules()).toEqual(['office 127.0.0.0-127.0.0.255'])
    expect(requests().filter((r) => r.startsWith('PUT'))).toEqual([])
  })

  it("reuses another's rule for the source and adds only the client's", async () => {
    addRule('corp', '20.50.1.0', '20.50.1.255')
    const ctx = await context()
    const output = await runStep(ctx, firewallStep)
    expect(output).toMatchObject({createdRules: ['datain-fw-client'], reusedRules: ['corp']})
    expect(await canQueryReplica(ctx)).toBe(true)
  })

  it('makes one rule when the source and datain share an address', async () => {
    const ctx = await context({settings: {source: {ip: '127.0.0.1'}}})
    const output = await runStep(ctx, firewallStep)
    expect(output).toMatchObject({sourceIp: '127.0.0.1', clientIp: '127.0.0.1', createdRules: ['datain-fw-source'], reusedRules: []})
    expect(rules()).toEqual(['datain-fw-source 127.0.0.1-127.0.0.1'])
    expect(await canQueryReplica(ctx)).toBe(true)
  })

  it('with --no-firewall and a refusing gateway, fails with exit 4 naming the address and the command, and adds nothing', async () => {
    const ctx = await context({settings: {azure: {manageFirewall: false}}})
    const requests = armRequests()
    const error = await failure(runStep(ctx, firewallStep))
    expect(error.code).toBe('E_REPLICA_FIREWALL')
    expect(error.oclif.exit).toBe(4)
    expect(error.message).toContain('refuses 127.0.0.1 (error 9000)')
    expect(error.message).toContain('--no-firewall')
    expect(error.message).toContain(
      `az mariadb server firewall-rule create --resource-group ${sandbox.azure.resourceGroup} --server-name ${sandbox.replica.serverName} --name datain-fw-client --start-ip-address 127.0.0.1 --end-ip-address 127.0.0.1`,
    )
    expect(rules()).toEqual([])
    expect(requests()).toEqual([])
  })

  it('with --no-arm likewise, and with --no-firewall and an open gateway it passes without a change', async () => {
    let ctx = await context({profile: 'noarm', settings: {azure: {useArm: false}}})
    const error = await failure(runStep(ctx, firewallStep))
    expect(error.oclif.exit).toBe(4)
    expect(error.message).toContain('--no-arm')
    await end(ctx)

    addRule('by-hand', '127.0.0.1')
    ctx = await context({profile: 'nofw', settings: {azure: {manageFirewall: false}}})
    const output = await runStep(ctx, firewallStep)
    expect(output).toMatchObject({managed: false, createdRules: [], clientIp: null})
    expect(ctx.lines.join('\n')).toContain(`no rule on the replica covers the source's address ${SOURCE_IP}`)
    expect(rules()).toEqual(['by-hand 127.0.0.1-127.0.0.1'])
  })

  it("works with ARM's asynchronous long-running operations (202 and polling)", async () => {
    sandbox.azure.arm.lroMode = 'async'
    const ctx = await context()
    const requests = armRequests()
    const output = await runStep(ctx, firewallStep)
    expect(output).toMatchObject({createdRules: ['datain-fw-source', 'datain-fw-client']})
    expect(requests()).toEqual(expect.arrayContaining([expect.stringMatching(/^PUT firewallRules\/datain-fw-source 202$/), expect.stringMatching(/^GET azureAsyncOperation\//)]))
    expect(await canQueryReplica(ctx)).toBe(true)
  })

  it('retries an ARM answer 429 (Retry-After) and goes on', async () => {
    sandbox.azure.arm.injectFault({status: 429, retryAfterSeconds: 1, times: 1, pathIncludes: '/firewallRules/datain-fw-source'})
    const ctx = await context()
    const requests = armRequests()
    const output = await runStep(ctx, firewallStep)
    expect(output).toMatchObject({createdRules: ['datain-fw-source', 'datain-fw-client']})
    const puts = requests().filter((r) => r.startsWith('PUT firewallRules/datain-fw-source'))
    expect(puts).toEqual(['PUT firewallRules/datain-fw-source 429', 'PUT firewallRules/datain-fw-source 201'])
  })

  it("moves datain's own rule when the source's address changes", async () => {
    let ctx = await context()
    await runStep(ctx, firewallStep)
    await end(ctx)
    ctx = await context({settings: {source: {ip: '20.50.1.8'}}})
    const output = await runStep(ctx, firewallStep)
    expect(output).toMatchObject({sourceIp: '20.50.1.8', createdRules: ['datain-fw-client', 'datain-fw-source']})
    expect(rules()).toEqual(['datain-fw-client 127.0.0.1-127.0.0.1', 'datain-fw-source 20.50.1.8-20.50.1.8'])
  })

  it("never overwrites a rule named like datain's that datain did not create", async () => {
    addRule('datain-fw-source', '203.0.113.1')
    const ctx = await context()
    const error = await failure(runStep(ctx, firewallStep))
    expect(error.code).toBe('E_FIREWALL_RULE_EXISTS')
    expect(error.oclif.exit).toBe(1)
    expect(error.message).toContain('datain-fw-source (203.0.113.1-203.0.113.1)')
    expect(rules()).toEqual(['datain-fw-source 203.0.113.1-203.0.113.1'])
  })

  it('recognises a rule created by a run that died right after the PUT (the progress marker)', async () => {
    addRule('datain-fw-client', '127.0.0.1')
    addRule('datain-fw-source', SOURCE_IP)
    const ctx = await context()
    const marker = {state: 'running' as const, startedAt: new Date().toISOString(), output: {createdRules: ['datain-fw-source', 'datain-fw-client']}}
    const output = await runStep(ctx, firewallStep, marker)
    expect(output).toMatchObject({createdRules: ['datain-fw-client', 'datain-fw-source'], reusedRules: []})
  })

  it('plans the ARM calls it would make and changes nothing', async () => {
    const ctx = await context()
    const requests = armRequests()
    const plan = await firewallStep.plan(ctx)
    const texts = plan.map((a) => a.text)
    expect(texts).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/refuses 127\.0\.0\.1 \(error 9000\)/),
        expect.stringMatching(/^GET .*\/firewallRules\?api-version=2018-06-01$/),
        expect.stringMatching(new RegExp(`^PUT .*/firewallRules/datain-fw-source\\?api-version=2018-06-01 .*"startIpAddress":"${SOURCE_IP.replaceAll('.', '\\.')}"`)),
        expect.stringMatching(/^PUT .*\/firewallRules\/datain-fw-client\?api-version=2018-06-01 .*"startIpAddress":"127\.0\.0\.1"/),
      ]),
    )
    expect(rules()).toEqual([])
    expect(requests().filter((r) => !r.startsWith('GET'))).toEqual([])
    // Every ARM call with its whole URL (the plan once mixed relative and absolute ones), and in the
    // run's order: the preflight step adds datain's own rule before the firewall step adds the source's.
    const arm = plan.filter((a) => a.kind === 'arm').map((a) => a.text)
    for (const text of arm) expect(text).toMatch(/^(GET|PUT) https:\/\/[^ ]+\/subscriptions\//)
    expect(arm.findIndex((t) => t.includes('/datain-fw-client?'))).toBeLessThan(arm.findIndex((t) => t.includes('/datain-fw-source?')))
  })

  it('plans the rules the run creates when the source has the address datain connects from', async () => {
    const ctx = await context({profile: 'same', settings: {source: {ip: '127.0.0.1'}}})
    const texts = (await firewallStep.plan(ctx)).map((a) => a.text)
    // It once planned datain-<profile>-source while the run created datain-<profile>-client.
    expect(texts.filter((t) => t.startsWith('PUT'))).toEqual([expect.stringMatching(/\/firewallRules\/datain-same-client\?/)])
    expect(texts).toContainEqual(expect.stringMatching(/the source's address 127\.0\.0\.1 is covered by datain's rule datain-same-client/))
    expect(rules()).toEqual([])
  })

  it("refuses a source IP that is not IPv4 (exit 2) and resolves the public host when none is given", async () => {
    let ctx = await context({profile: 'badip', settings: {source: {ip: '1.2.3.999'}}})
    const error = await failure(runStep(ctx, firewallStep))
    expect(error.code).toBe('E_SOURCE_IP')
    expect(error.oclif.exit).toBe(2)
    await end(ctx)

    addRule('by-hand', '127.0.0.1')
    ctx = await context({profile: 'byname', settings: {source: {ip: undefined, publicHost: 'localhost'}}})
    expect(await runStep(ctx, firewallStep)).toMatchObject({sourceIp: '127.0.0.1', reusedRules: ['by-hand']})
  })
})

describe("the Azure target's letClientIn, for the preflight step", () => {
  /** A stand-in for the preflight step: what it must do with letClientIn's result. */
  const preflight: Step<'preflight'> = {
    id: 'preflight',
    title: 'preflight',
    describe: '',
    plan: async () => [],
    async run(ctx) {
      const access = await ctx.target.network.letClientIn(ctx)
      return {passed: 0, warnings: [], clientIp: access.clientIp ?? null, createdRules: access.createdRules}
    },
  }

  it("adds the client rule and waits until the gateway lets datain in; twice makes one rule; the firewall step then counts it as datain's", async () => {
    const ctx = await context({profile: 'pre'})
    const access = await runStep(ctx, preflight)
    expect(access).toEqual({passed: 0, warnings: [], clientIp: '127.0.0.1', createdRules: ['datain-pre-client']})
    expect(await canQueryReplica(ctx)).toBe(true)
    // Run again (the preflight runs on every start): the gateway is open, the rule is carried forward.
    expect(await runStep(ctx, preflight)).toEqual({passed: 0, warnings: [], clientIp: null, createdRules: ['datain-pre-client']})
    expect(rules()).toEqual(['datain-pre-client 127.0.0.1-127.0.0.1'])

    const output = await runStep(ctx, firewallStep)
    expect(output).toMatchObject({createdRules: ['datain-pre-client', 'datain-pre-source'], reusedRules: []})
  })

  it('with --no-firewall names the address and the command (exit 4)', async () => {
    const ctx = await context({profile: 'pre', settings: {azure: {manageFirewall: false}}})
    const error = await failure(runStep(ctx, preflight))
    expect(error.oclif.exit).toBe(4)
    expect(error.message).toContain('127.0.0.1')
    expect(error.message).toContain('az mariadb server firewall-rule create')
  })
})

describe('waitForReplicaAccess', () => {
  it('retries until a rule applies, gives up after its bound (exit 4), and stops at once when aborted', async () => {
    const ctx = await context()
    setTimeout(() => addRule('late', '127.0.0.1'), 1200)
    const started = Date.now()
    await waitForReplicaAccess(ctx, {ip: '127.0.0.1', rule: 'late', timeoutMs: 20_000})
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
    expect(ctx.statuses.some((s) => s.includes('Waiting for the firewall rule late'))).toBe(true)

    sandbox.azure.state.firewallRules.clear()
    const error = await failure(waitForReplicaAccess(ctx, {ip: '127.0.0.1', rule: 'datain-fw-client', timeoutMs: 1500}))
    expect(error.code).toBe('E_REPLICA_FIREWALL')
    expect(error.oclif.exit).toBe(4)
    expect(error.message).toContain('datain-fw-client covers 127.0.0.1')

    const waiting = waitForReplicaAccess(ctx, {ip: '127.0.0.1', rule: 'x', timeoutMs: 60_000})
    const abortedAt = Date.now()
    setTimeout(() => ctx.controller.abort(new Error('interrupted')), 300)
    await expect(waiting).rejects.toThrow('interrupted')
    expect(Date.now() - abortedAt).toBeLessThan(3000)
  })
})

describe('firewallRuleName', () => {
  it('says whose rule it is, within what ARM allows, and keeps profiles apart', () => {
    expect(firewallRuleName('prod', 'source')).toBe('datain-prod-source')
    expect(firewallRuleName('eu-prod_2', 'client')).toBe('datain-eu-prod_2-client')
    const dotted = firewallRuleName('eu.prod', 'client')
    expect(dotted).toMatch(/^datain-eu-prod-[0-9a-f]{6}-client$/)
    expect(dotted).not.toBe(firewallRuleName('eu-prod', 'client'))
    expect(firewallRuleName('Prod', 'source')).not.toBe(firewallRuleName('prod', 'source'))
    const long = firewallRuleName(`${'a.'.repeat(32)}`, 'source')
    expect(long.length).toBeLessThanOrEqual(128)
    expect(long).toMatch(/^[A-Za-z0-9_-]+$/)
  })
})

describe("the address in the gateway's error 9000", () => {
  afterEach(() => {
    sandbox.gateway.namedIp = undefined
  })

  it('opens nothing for an address of any special-purpose block (0.0.0.0, broadcast, multicast, reserved…): E_CLIENT_IP_UNTRUSTED, exit 4', async () => {
    const special = SPECIAL_PURPOSE_BLOCKS.filter((b) => b.kind === 'special')
    const named = ['0.0.0.0', '255.255.255.255', ...special.flatMap((b) => fc.sample(fc.integer({min: b.first, max: b.last}).map(numberToIpv4), 2))]
    for (const ip of named) {
      sandbox.gateway.namedIp = ip
      const ctx = await context()
      const plan = await failure(firewallStep.plan(ctx))
      const error = await failure(runStep(ctx, firewallStep))
      for (const e of [plan, error]) {
        expect(e, ip).toMatchObject({code: 'E_CLIENT_IP_UNTRUSTED', exitCode: 4})
        expect(e.message, ip).toContain('named an address datain will not open')
        expect(e.message, ip).toContain('--client-ip')
      }
      expect(rules(), ip).toEqual([])
      await end(ctx)
    }
  })

  it('shows a name that is no address quoted, its control characters escaped, and opens nothing', async () => {
    sandbox.gateway.namedIp = '20.50.1.9\u001b[2J\nrm -rf'
    const ctx = await context()
    const error = await failure(runStep(ctx, firewallStep))
    expect(error).toMatchObject({code: 'E_CLIENT_IP_UNTRUSTED', exitCode: 4})
    expect(error.message).toContain('"20.50.1.9\\u001b[2J\\nrm -rf" is not one IPv4 address')
    expect([...error.message].some((c) => c.charCodeAt(0) < 0x20)).toBe(false)
    expect(rules()).toEqual([])
  })

  it('takes a loopback or private address while the replica is local, as here, and --client-ip over what the gateway names', async () => {
    sandbox.gateway.namedIp = '0.0.0.0'
    const ctx = await context({settings: {clientIp: '127.0.0.1'}})
    expect(await runStep(ctx, firewallStep)).toMatchObject({clientIp: '127.0.0.1'})
    expect(rules()).toContain('datain-fw-client 127.0.0.1-127.0.0.1')
  })
})
