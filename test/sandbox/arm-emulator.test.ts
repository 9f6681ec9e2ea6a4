import {MariaDBManagementClient} from '@azure/arm-mariadb'
import {randomUUID} from 'node:crypto'
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {type ArmEmulator, type ArmEmulatorOptions, type ReplicaControl, startArmEmulator} from '../../sandbox/arm-emulator.js'
import {AzureServerState} from '../../sandbox/azure-state.js'
import {type Certificate, ensureCa, issueCertificate} from '../../sandbox/tls.js'

const SUB = '6f1c2d3e-0000-4000-8000-00000000d47a'
const RG = 'datain-rg'
const SERVER = 'replica1'
const TOKEN = `sandbox-${randomUUID()}`
const FAST = {updateIntervalInMs: 20}

type TokenCredential = ConstructorParameters<typeof MariaDBManagementClient>[0]

/** MariaDB in memory: switches read back as 1/0 (as `SELECT @@GLOBAL.x` shows them), 1198 while the slave runs. */
class MemoryReplica implements ReplicaControl {
  vars = new Map<string, string>()
  slaveRunning = false
  readonly sets: [string, string][] = []

  constructor() {
    this.reset()
  }

  reset(): void {
    this.slaveRunning = false
    this.sets.length = 0
    this.vars = new Map(Object.entries({
      binlog_format: 'MIXED', innodb_buffer_pool_size: '134217728', log_bin_trust_function_creators: '0', lower_case_table_names: '1',
      max_allowed_packet: '16777216', max_connections: '151', replicate_wild_ignore_table: '', slave_net_timeout: '60',
      sync_master_info: '10000', sync_relay_log_info: '10000', time_zone: 'SYSTEM', wait_timeout: '28800',
    }))
  }

  async version(): Promise<string> {
    return '10.11.19-MariaDB-0+deb12u1'
  }

  async getVariable(name: string): Promise<string | null> {
    return this.vars.get(name) ?? null
  }

  async setVariable(name: string, value: string): Promise<void> {
    this.sets.push([name, value])
    if (name === 'replicate_wild_ignore_table' && this.slaveRunning) {
      throw Object.assign(new Error("(conn:7, no: 1198, SQLState: HY000) This operation cannot be performed as you have a running slave ''; run STOP SLAVE '' first"), {errno: 1198})
    }
    this.vars.set(name, value === 'ON' ? '1' : value === 'OFF' ? '0' : value)
  }
}

function credential(token: string): TokenCredential {
  return {getToken: async () => ({token, expiresOnTimestamp: Date.now() + 3600_000})}
}

interface RestErrorLike {
  name: string
  statusCode?: number
  code?: string
  message: string
}

async function rejection(promise: Promise<unknown>): Promise<RestErrorLike> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail')
    },
    (err: unknown) => err as RestErrorLike,
  )
}

async function restError(promise: Promise<unknown>, statusCode: number, code: string): Promise<RestErrorLike> {
  const err = await rejection(promise)
  expect(err.name).toBe('RestError')
  expect({statusCode: err.statusCode, code: err.code}).toEqual({statusCode, code})
  return err
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

let dir: string
let cert: Certificate
let emulator: ArmEmulator
let state: AzureServerState
let replica: MemoryReplica
let client: MariaDBManagementClient

function options(overrides: Partial<ArmEmulatorOptions> = {}): ArmEmulatorOptions {
  return {
    subscriptionId: SUB, resourceGroup: RG, serverName: SERVER, token: TOKEN, tls: cert,
    state, replica, fqdn: 'replica.sandbox', ...overrides,
  }
}

/** A raw HTTPS call, for what the SDK cannot send (no token, another api-version, the control API). */
async function call(method: string, pathAndQuery: string, o: {body?: unknown; token?: string | null} = {}): Promise<Response> {
  const headers: Record<string, string> = {'content-type': 'application/json'}
  if (o.token !== null) headers.authorization = `Bearer ${o.token ?? TOKEN}`
  return fetch(`${emulator.url}${pathAndQuery}`, {method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body)})
}

const serverPath = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.DBforMariaDB/servers/${SERVER}`

function logSince(mark: number): string[] {
  return emulator.requestLog.slice(mark).map((e) => `${e.method} ${e.path.replace(serverPath, '~').replace(/[0-9a-f-]{36}$/, '{id}')} ${e.status}`)
}

beforeAll(async () => {
  const caDir = process.env.DATAIN_SANDBOX_CA_DIR
  if (!caDir) throw new Error('DATAIN_SANDBOX_CA_DIR is not set: test/global-setup.ts did not run')
  dir = await mkdtemp(path.join(os.tmpdir(), 'datain-arm-test-'))
  cert = await issueCertificate(dir, await ensureCa(caDir, 'azure'), 'arm', ['127.0.0.1', 'localhost'])
  state = new AzureServerState()
  replica = new MemoryReplica()
  emulator = await startArmEmulator(options())
  client = new MariaDBManagementClient(credential(TOKEN), SUB, {endpoint: emulator.url})
})

afterAll(async () => {
  await emulator?.close()
  if (dir) await rm(dir, {recursive: true, force: true})
})

beforeEach(() => {
  emulator.lroMode = 'sync'
  emulator.clearFaults()
  state.tier = 'GeneralPurpose'
  state.firewallRules.clear()
  replica.reset()
})

describe('servers', () => {
  it('gets the replica server as ARM shows it, and follows the tier', async () => {
    const server = await client.servers.get(RG, SERVER)
    expect(server).toMatchObject({
      id: serverPath, name: SERVER, type: 'Microsoft.DBforMariaDB/servers', location: 'westeurope',
      sku: {name: 'GP_Gen5_2', tier: 'GeneralPurpose', capacity: 2, family: 'Gen5'},
      version: '10.11', sslEnforcement: 'Enabled', minimalTlsVersion: 'TLS1_2', userVisibleState: 'Ready',
      fullyQualifiedDomainName: 'replica.sandbox', replicationRole: 'None', publicNetworkAccess: 'Enabled',
    })
    expect(server.earliestRestoreDate).toBeInstanceOf(Date)

    state.tier = 'Basic'
    expect((await client.servers.get(RG, SERVER)).sku).toMatchObject({name: 'B_Gen5_1', tier: 'Basic'})

    expect((await call('PUT', '/_sandbox/tier', {body: {tier: 'MemoryOptimized'}})).status).toBe(204)
    expect((await client.servers.get(RG, SERVER)).sku).toMatchObject({name: 'MO_Gen5_2', tier: 'MemoryOptimized'})
    expect((await call('PUT', '/_sandbox/tier', {body: {tier: 'Premium'}})).status).toBe(400)
  })

  it('treats provider and type names without regard to case, and answers with ARM headers', async () => {
    const res = await call('GET', `${serverPath.replace('Microsoft.DBforMariaDB', 'microsoft.dbformariadb').replace('/servers/', '/SERVERS/')}?api-version=2018-06-01`)
    expect(res.status).toBe(200)
    expect(res.headers.get('x-ms-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    expect(res.headers.get('x-ms-correlation-request-id')).toBeTruthy()
  })
})

describe('firewall rules', () => {
  it('creates, gets, lists, updates and deletes a rule in sync mode', async () => {
    const mark = emulator.requestLog.length
    const rules = client.firewallRules
    const created = await rules.beginCreateOrUpdateAndWait(RG, SERVER, 'datain-source', {startIpAddress: '203.0.113.7', endIpAddress: '203.0.113.7'}, FAST)
    expect(created).toMatchObject({name: 'datain-source', type: 'Microsoft.DBforMariaDB/servers/firewallRules', startIpAddress: '203.0.113.7'})
    expect(created.id).toBe(`${serverPath}/firewallRules/datain-source`)
    expect(state.isAllowed('203.0.113.7')).toBe(true)
    expect(state.isAllowed('::ffff:203.0.113.7')).toBe(true)

    await rules.beginCreateOrUpdateAndWait(RG, SERVER, 'datain-source', {startIpAddress: '203.0.113.0', endIpAddress: '203.0.113.255'}, FAST)
    expect(await rules.get(RG, SERVER, 'DATAIN-SOURCE')).toMatchObject({name: 'datain-source', endIpAddress: '203.0.113.255'})
    await rules.beginCreateOrUpdateAndWait(RG, SERVER, 'other', {startIpAddress: '198.51.100.1', endIpAddress: '198.51.100.1'}, FAST)
    expect((await collect(rules.listByServer(RG, SERVER))).map((r) => r.name).sort()).toEqual(['datain-source', 'other'])

    await rules.beginDeleteAndWait(RG, SERVER, 'datain-source', FAST)
    await rules.beginDeleteAndWait(RG, SERVER, 'datain-source', FAST)
    expect(state.isAllowed('203.0.113.7')).toBe(false)
    await restError(rules.get(RG, SERVER, 'datain-source'), 404, 'ResourceNotFound')
    expect(logSince(mark)).toEqual([
      'PUT ~/firewallRules/datain-source 201',
      'PUT ~/firewallRules/datain-source 200',
      'GET ~/firewallRules/DATAIN-SOURCE 200',
      'PUT ~/firewallRules/other 201',
      'GET ~/firewallRules 200',
      'DELETE ~/firewallRules/datain-source 200',
      'DELETE ~/firewallRules/datain-source 204',
      'GET ~/firewallRules/datain-source 404',
    ])
  })

  it('creates and deletes a rule as a long-running operation in async mode', async () => {
    emulator.lroMode = 'async'
    const mark = emulator.requestLog.length
    const created = await client.firewallRules.beginCreateOrUpdateAndWait(RG, SERVER, 'datain-client', {startIpAddress: '192.0.2.10', endIpAddress: '192.0.2.10'}, FAST)
    expect(created).toMatchObject({name: 'datain-client', startIpAddress: '192.0.2.10', endIpAddress: '192.0.2.10'})
    expect(state.isAllowed('192.0.2.10')).toBe(true)
    expect(logSince(mark)).toEqual([
      'PUT ~/firewallRules/datain-client 202',
      `GET /subscriptions/${SUB}/providers/Microsoft.DBforMariaDB/locations/westeurope/azureAsyncOperation/{id} 200`,
      `GET /subscriptions/${SUB}/providers/Microsoft.DBforMariaDB/locations/westeurope/azureAsyncOperation/{id} 200`,
      'GET ~/firewallRules/datain-client 200',
    ])

    const deleteMark = emulator.requestLog.length
    await client.firewallRules.beginDeleteAndWait(RG, SERVER, 'datain-client', FAST)
    expect(state.firewallRules.size).toBe(0)
    expect(logSince(deleteMark)).toEqual([
      'DELETE ~/firewallRules/datain-client 202',
      `GET /subscriptions/${SUB}/providers/Microsoft.DBforMariaDB/locations/westeurope/azureAsyncOperation/{id} 200`,
      `GET /subscriptions/${SUB}/providers/Microsoft.DBforMariaDB/locations/westeurope/azureAsyncOperation/{id} 200`,
    ])
  })

  it('reports InProgress first, then Succeeded, on both polling URLs', async () => {
    emulator.lroMode = 'async'
    const accepted = await call('PUT', `${serverPath}/firewallRules/raw?api-version=2018-06-01`, {
      body: {properties: {startIpAddress: '192.0.2.1', endIpAddress: '192.0.2.2'}},
    })
    expect(accepted.status).toBe(202)
    expect(accepted.headers.get('retry-after')).toBe('0')
    const asyncUrl = accepted.headers.get('azure-asyncoperation')!
    const locationUrl = accepted.headers.get('location')!
    expect(asyncUrl).toMatch(new RegExp(`^${emulator.url}/subscriptions/${SUB}/providers/Microsoft.DBforMariaDB/locations/westeurope/azureAsyncOperation/[0-9a-f-]{36}\\?api-version=2018-06-01$`))
    expect(locationUrl).toMatch(/\/operationResults\/[0-9a-f-]{36}\?api-version=2018-06-01$/)

    const auth = {authorization: `Bearer ${TOKEN}`}
    expect(await (await fetch(asyncUrl, {headers: auth})).json()).toMatchObject({status: 'InProgress'})
    await expect.poll(async () => ((await (await fetch(asyncUrl, {headers: auth})).json()) as {status: string}).status).toBe('Succeeded')
    const result = await fetch(locationUrl, {headers: auth})
    expect(result.status).toBe(200)
    expect(await result.json()).toMatchObject({name: 'raw', properties: {startIpAddress: '192.0.2.1', endIpAddress: '192.0.2.2'}})
  })

  it('refuses an invalid IP address or rule name and stores nothing', async () => {
    for (const mode of ['sync', 'async'] as const) {
      emulator.lroMode = mode
      const err = await restError(
        client.firewallRules.beginCreateOrUpdateAndWait(RG, SERVER, 'bad', {startIpAddress: '1.2.3.999', endIpAddress: '1.2.3.999'}, FAST),
        400, 'InvalidParameterValue')
      expect(err.message).toContain('1.2.3.999')
    }
    await restError(client.firewallRules.beginCreateOrUpdateAndWait(RG, SERVER, 'bad', {startIpAddress: '10.0.0.9', endIpAddress: '10.0.0.1'}, FAST),
      400, 'InvalidParameterValue')
    await restError(client.firewallRules.beginCreateOrUpdateAndWait(RG, SERVER, 'bad.name', {startIpAddress: '10.0.0.1', endIpAddress: '10.0.0.1'}, FAST),
      400, 'InvalidParameterValue')
    expect(state.firewallRules.size).toBe(0)
    await restError(client.firewallRules.get(RG, SERVER, 'bad'), 404, 'ResourceNotFound')
  })
})

describe('configurations', () => {
  it('gets and lists parameters with live values, switches as ON/OFF', async () => {
    const trust = await client.configurations.get(RG, SERVER, 'log_bin_trust_function_creators')
    expect(trust).toMatchObject({
      name: 'log_bin_trust_function_creators', type: 'Microsoft.DBforMariaDB/servers/configurations',
      value: 'OFF', defaultValue: 'OFF', dataType: 'Enumeration', allowedValues: 'ON,OFF', source: 'system-default',
    })
    expect(trust.description).toBeTruthy()
    const all = await collect(client.configurations.listByServer(RG, SERVER))
    const names = all.map((c) => c.name)
    for (const name of ['log_bin_trust_function_creators', 'sync_master_info', 'sync_relay_log_info', 'replicate_wild_ignore_table', 'lower_case_table_names']) {
      expect(names).toContain(name)
    }
    expect(all.find((c) => c.name === 'sync_master_info')).toMatchObject({value: '10000', dataType: 'Integer'})
    await restError(client.configurations.get(RG, SERVER, 'no_such_parameter'), 404, 'ResourceNotFound')
  })

  it('updates a parameter through the replica, in sync and async mode', async () => {
    const updated = await client.configurations.beginCreateOrUpdateAndWait(RG, SERVER, 'log_bin_trust_function_creators', {value: 'on', source: 'user-override'}, FAST)
    expect(updated).toMatchObject({value: 'ON', source: 'user-override'})
    expect(replica.sets).toEqual([['log_bin_trust_function_creators', 'ON']])
    expect(replica.vars.get('log_bin_trust_function_creators')).toBe('1')

    emulator.lroMode = 'async'
    const mark = emulator.requestLog.length
    expect(await client.configurations.beginCreateOrUpdateAndWait(RG, SERVER, 'sync_master_info', {value: '1', source: 'user-override'}, FAST))
      .toMatchObject({name: 'sync_master_info', value: '1', source: 'user-override'})
    expect(replica.vars.get('sync_master_info')).toBe('1')
    expect(logSince(mark)[0]).toBe('PUT ~/configurations/sync_master_info 202')

    emulator.lroMode = 'sync'
    expect(await client.configurations.beginCreateOrUpdateAndWait(RG, SERVER, 'sync_master_info', {source: 'system-default'}, FAST))
      .toMatchObject({value: '10000', source: 'system-default'})
  })

  it('refuses read-only parameters and values outside allowedValues, changing nothing', async () => {
    const err = await restError(
      client.configurations.beginCreateOrUpdateAndWait(RG, SERVER, 'lower_case_table_names', {value: '0', source: 'user-override'}, FAST),
      400, 'ConfigurationReadOnly')
    expect(err.message).toContain('lower_case_table_names')
    expect((await client.configurations.get(RG, SERVER, 'lower_case_table_names')).value).toBe('1')
    await restError(client.configurations.beginCreateOrUpdateAndWait(RG, SERVER, 'log_bin_trust_function_creators', {value: 'MAYBE'}, FAST),
      400, 'InvalidParameterValue')
    await restError(client.configurations.beginCreateOrUpdateAndWait(RG, SERVER, 'sync_master_info', {value: '-1'}, FAST),
      400, 'InvalidParameterValue')
    await restError(client.configurations.beginCreateOrUpdateAndWait(RG, SERVER, 'no_such_parameter', {value: '1'}, FAST),
      404, 'ResourceNotFound')
    expect(replica.sets).toEqual([])
  })

  it('surfaces a refusal by MariaDB instead of pretending success', async () => {
    replica.slaveRunning = true
    const err = await restError(
      client.configurations.beginCreateOrUpdateAndWait(RG, SERVER, 'replicate_wild_ignore_table', {value: 'other_db.%'}, FAST),
      409, 'ConfigurationUpdateFailed')
    expect(err.message).toContain('STOP SLAVE')

    emulator.lroMode = 'async'
    const failed = await rejection(
      client.configurations.beginCreateOrUpdateAndWait(RG, SERVER, 'replicate_wild_ignore_table', {value: 'other_db.%'}, FAST))
    expect(failed.message).toMatch(/long-running operation has failed.*ConfigurationUpdateFailed.*STOP SLAVE/)
    expect((await client.configurations.get(RG, SERVER, 'replicate_wild_ignore_table')).value).toBe('')
  })
})

describe('errors as ARM sends them', () => {
  it('refuses a wrong token with 401 at once, without retrying', async () => {
    const intruder = new MariaDBManagementClient(credential('not-the-token'), SUB, {endpoint: emulator.url})
    const mark = emulator.requestLog.length
    const started = Date.now()
    const err = await restError(intruder.servers.get(RG, SERVER), 401, 'InvalidAuthenticationToken')
    expect(Date.now() - started).toBeLessThan(2000)
    expect(err.message).toContain('invalid')
    expect(logSince(mark)).toEqual(['GET ~ 401'])

    const anonymous = await call('GET', `${serverPath}?api-version=2018-06-01`, {token: null})
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer /)
    expect(await anonymous.json()).toMatchObject({error: {code: 'AuthenticationFailed'}})
    expect((await call('GET', '/_sandbox/requests', {token: 'nope'})).status).toBe(401)
  })

  it('answers 404 with the code of the missing level', async () => {
    const otherSub = new MariaDBManagementClient(credential(TOKEN), '00000000-0000-0000-0000-000000000000', {endpoint: emulator.url})
    await restError(otherSub.servers.get(RG, SERVER), 404, 'SubscriptionNotFound')
    await restError(client.servers.get('other-rg', SERVER), 404, 'ResourceGroupNotFound')
    const err = await restError(client.servers.get(RG, 'other-server'), 404, 'ResourceNotFound')
    expect(err.message).toContain(`The Resource 'Microsoft.DBforMariaDB/servers/other-server' under resource group '${RG}' was not found.`)
  })

  it('requires api-version 2018-06-01', async () => {
    const missing = await call('GET', serverPath)
    expect(missing.status).toBe(400)
    expect(await missing.json()).toMatchObject({error: {code: 'MissingApiVersionParameter'}})
    const other = await call('GET', `${serverPath}?api-version=2017-12-01`)
    expect(other.status).toBe(400)
    expect(await other.json()).toMatchObject({error: {code: 'InvalidApiVersionParameter'}})
  })

  it('never logs the token', async () => {
    await client.servers.get(RG, SERVER)
    const res = await call('GET', '/_sandbox/requests')
    const text = await res.text()
    expect(JSON.parse(text)).toEqual(expect.arrayContaining([expect.objectContaining({method: 'GET', path: serverPath, status: 200})]))
    expect(text).not.toContain(TOKEN)
    expect(JSON.stringify(emulator.requestLog)).not.toContain(TOKEN)
  })
})

describe('faults', () => {
  it('throttles with 429 and Retry-After, which the SDK waits out and retries', async () => {
    emulator.injectFault({status: 429, retryAfterSeconds: 1, times: 1})
    const mark = emulator.requestLog.length
    const started = Date.now()
    expect((await client.servers.get(RG, SERVER)).name).toBe(SERVER)
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
    expect(logSince(mark)).toEqual(['GET ~ 429', 'GET ~ 200'])
  })

  it('answers 500 (retried by the SDK) only on matching paths, also when set through the control API', async () => {
    expect((await call('POST', '/_sandbox/faults', {body: {status: 500, times: 1, pathIncludes: '/firewallRules'}})).status).toBe(204)
    const mark = emulator.requestLog.length
    await client.servers.get(RG, SERVER)
    expect(await collect(client.firewallRules.listByServer(RG, SERVER))).toEqual([])
    expect(logSince(mark)).toEqual(['GET ~ 200', 'GET ~/firewallRules 500', 'GET ~/firewallRules 200'])
  })

  it('sets the LRO mode and clears faults through the control API', async () => {
    expect((await call('PUT', '/_sandbox/lro-mode', {body: {mode: 'async'}})).status).toBe(204)
    expect(emulator.lroMode).toBe('async')
    expect((await call('PUT', '/_sandbox/lro-mode', {body: {mode: 'later'}})).status).toBe(400)
    expect((await call('POST', '/_sandbox/faults', {body: {status: 404, times: 1}})).status).toBe(400)
    await call('POST', '/_sandbox/faults', {body: {status: 503, times: 5}})
    await call('POST', '/_sandbox/hang', {body: {times: 5}})
    expect((await call('DELETE', '/_sandbox/faults')).status).toBe(204)
    expect((await client.servers.get(RG, SERVER)).name).toBe(SERVER)
  })

  it('hangs requests until the client gives up, and still closes', async () => {
    const own = await startArmEmulator(options())
    const ownClient = new MariaDBManagementClient(credential(TOKEN), SUB, {endpoint: own.url})
    own.hang(2)
    const timedOut = await rejection(ownClient.servers.get(RG, SERVER, {abortSignal: AbortSignal.timeout(300)}))
    expect(timedOut.name).toBe('AbortError')

    const controller = new AbortController()
    const pending = rejection(ownClient.servers.get(RG, SERVER, {abortSignal: controller.signal}))
    await expect.poll(() => own.requestLog.length).toBe(2)
    const started = Date.now()
    await own.close()
    expect(Date.now() - started).toBeLessThan(1000)
    controller.abort()
    expect((await pending).name).toMatch(/AbortError|RestError/)
    expect(own.requestLog.map((e) => e.status)).toEqual([0, 0])
  })
})
