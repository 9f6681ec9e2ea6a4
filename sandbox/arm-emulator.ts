import {randomUUID} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import type {IncomingMessage, ServerResponse} from 'node:http'
import https from 'node:https'
import type {AddressInfo, Socket} from 'node:net'
import type {AzureServerState, FirewallRule, SkuTier} from './azure-state.js'

/** The emulated Azure replica as the ARM emulator sees it: its version and its global variables. */
export interface ReplicaControl {
  /** MariaDB version string of the emulated replica, e.g. '10.11.19-MariaDB-0+deb12u1' */
  version(): Promise<string>
  /** Read a global variable on the replica (null if unknown). */
  getVariable(name: string): Promise<string | null>
  /**
   * SET GLOBAL name = value on the replica; throws an Error with a message if MariaDB refuses.
   * `value` is ARM's text: 'ON'/'OFF' for switches, digits for integers, anything for strings.
   */
  setVariable(name: string, value: string): Promise<void>
}

export interface ArmEmulatorOptions {
  subscriptionId: string
  resourceGroup: string
  serverName: string
  /** The bearer token the emulator accepts. */
  token: string
  /** PEM *file paths*. */
  tls: {cert: string; key: string}
  state: AzureServerState
  replica: ReplicaControl
  /** e.g. '127.0.0.1' or 'replica.sandbox' */
  fqdn: string
  /** Default 'datainadmin'. */
  administratorLogin?: string
  /** Default 127.0.0.1. */
  host?: string
  /** Default 0: a free port. */
  port?: number
}

export type LroMode = 'sync' | 'async'

export interface ArmFault {
  status: 429 | 500 | 503
  retryAfterSeconds?: number
  times: number
  pathIncludes?: string
}

export interface ArmRequestLogEntry {
  method: string
  /** Without the query string. */
  path: string
  /** 0 while the request is unanswered (e.g. hung). */
  status: number
  at: string
}

export interface ArmEmulator {
  /** https://127.0.0.1:PORT */
  url: string
  port: number
  /** Every request, in order (no token in it). */
  requestLog: ArmRequestLogEntry[]
  /** How firewall-rule PUT/DELETE and configuration PUT answer; default 'sync'. */
  lroMode: LroMode
  /**
   * Plays the retired service: every request under the Microsoft.DBforMariaDB provider gets this
   * answer (as ARM answers for a provider it no longer serves), until set back to undefined.
   */
  providerGone?: ProviderGone
  /** The server's fullyQualifiedDomainName, from the option `fqdn` until changed; '' leaves the property out. */
  fqdn: string
  /** The next `times` matching requests get that status (429 with a Retry-After header). */
  injectFault(fault: ArmFault): void
  /** The next `times` requests are accepted but never answered (socket left open until close()). */
  hang(times: number): void
  clearFaults(): void
  close(): Promise<void>
}

/** ARM's answers for a resource provider that is not there: 400 NoRegisteredProviderFound, 404 InvalidResourceNamespace, or a bare 404. */
export type ProviderGone = {status: 400; code: 'NoRegisteredProviderFound'} | {status: 404; code: 'InvalidResourceNamespace' | 'NotFound'}

export const ARM_API_VERSION = '2018-06-01'
const PROVIDER = 'Microsoft.DBforMariaDB'
const LOCATION = 'westeurope'
const MAX_BODY_BYTES = 1 << 20
/** An async operation nobody polls still completes, as on Azure. */
const UNPOLLED_OPERATION_COMPLETES_AFTER_MS = 1000
const TIERS: readonly SkuTier[] = ['Basic', 'GeneralPurpose', 'MemoryOptimized']

/** Starts the emulated ARM endpoint over HTTPS; see the interfaces above for what it serves. */
export async function startArmEmulator(options: ArmEmulatorOptions): Promise<ArmEmulator> {
  const emulator = new ArmEmulatorServer(options)
  await emulator.listen()
  return emulator
}

interface ArmErrorBody {
  code: string
  message: string
}

/** A failure answered with ARM's error shape: `{"error":{"code","message"}}`. */
class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

interface Exchange {
  req: IncomingMessage
  res: ServerResponse
  entry: ArmRequestLogEntry
  url: URL
  /** Decoded path segments. */
  segments: string[]
}

interface AsyncOperation {
  id: string
  startTime: string
  endTime?: string
  status: 'InProgress' | 'Succeeded' | 'Failed'
  error?: ArmErrorBody
  polled: boolean
  started: boolean
  apply: () => Promise<void>
  /** The resource an operation-result URL shows once a PUT succeeded. */
  result?: () => Promise<unknown>
  timer: NodeJS.Timeout
}

type ParameterType = 'Enumeration' | 'Integer' | 'String'

interface ParameterSpec {
  name: string
  dataType: ParameterType
  allowedValues: string
  defaultValue: string
  description: string
  readOnly?: boolean
}

/** The server parameters the emulated replica exposes; Azure's own list is longer. */
const PARAMETERS: readonly ParameterSpec[] = [
  {name: 'binlog_format', dataType: 'Enumeration', allowedValues: 'ROW,STATEMENT,MIXED', defaultValue: 'ROW', readOnly: true,
    description: 'What form of binary logging the master will use.'},
  {name: 'innodb_buffer_pool_size', dataType: 'Integer', allowedValues: '134217728-17179869184', defaultValue: '134217728', readOnly: true,
    description: 'The size in bytes of the buffer pool, the memory area where InnoDB caches table and index data.'},
  {name: 'log_bin_trust_function_creators', dataType: 'Enumeration', allowedValues: 'ON,OFF', defaultValue: 'OFF',
    description: 'This variable applies when binary logging is enabled. It controls whether stored function creators can be trusted not to create stored functions that will cause unsafe events to be written to the binary log.'},
  {name: 'lower_case_table_names', dataType: 'Integer', allowedValues: '0-2', defaultValue: '1', readOnly: true,
    description: 'If set to 0, table names are stored as specified and comparisons are case sensitive. If set to 1, they are stored in lowercase on disk and comparisons are not case sensitive.'},
  {name: 'max_allowed_packet', dataType: 'Integer', allowedValues: '1024-1073741824', defaultValue: '16777216',
    description: 'The maximum size of one packet or any generated/intermediate string, or any parameter sent by the mysql_stmt_send_long_data() C API function.'},
  {name: 'max_connections', dataType: 'Integer', allowedValues: '10-600', defaultValue: '151',
    description: 'The maximum permitted number of simultaneous client connections.'},
  {name: 'replicate_wild_ignore_table', dataType: 'String', allowedValues: '', defaultValue: '',
    description: 'Tells the slave thread not to replicate to the tables that match the given wildcard pattern.'},
  {name: 'slave_net_timeout', dataType: 'Integer', allowedValues: '1-31536000', defaultValue: '60',
    description: 'The number of seconds to wait for more data from the master before the slave considers the connection broken.'},
  {name: 'sync_master_info', dataType: 'Integer', allowedValues: '0-4294967295', defaultValue: '10000',
    description: 'A replication slave synchronizes its master.info file to disk after every sync_master_info events.'},
  {name: 'sync_relay_log_info', dataType: 'Integer', allowedValues: '0-4294967295', defaultValue: '10000',
    description: 'A replication slave synchronizes its relay-log.info file to disk after every sync_relay_log_info transactions.'},
  {name: 'time_zone', dataType: 'String', allowedValues: '[+|-][0]{0,1}[0-9]:[0-5][0-9]|[+|-][1][0-2]:[0-5][0-9]|SYSTEM', defaultValue: 'SYSTEM',
    description: 'The server time zone.'},
  {name: 'wait_timeout', dataType: 'Integer', allowedValues: '1-31536000', defaultValue: '28800',
    description: 'The number of seconds the server waits for activity on a noninteractive connection before closing it.'},
]

// ARM accepts neither leading zeros nor anything but dotted-quad IPv4 for MariaDB firewall rules.
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const RULE_NAME = /^[A-Za-z0-9_-]{1,128}$/

class ArmEmulatorServer implements ArmEmulator {
  url = ''
  port = 0
  readonly requestLog: ArmRequestLogEntry[] = []
  lroMode: LroMode = 'sync'
  providerGone?: ProviderGone
  fqdn: string
  private faults: {fault: ArmFault; remaining: number}[] = []
  private hangsLeft = 0
  private readonly operations = new Map<string, AsyncOperation>()
  private readonly sockets = new Set<Socket>()
  private readonly startedAt = new Date()
  private server?: https.Server

  constructor(private readonly o: ArmEmulatorOptions) {
    this.fqdn = o.fqdn
  }

  async listen(): Promise<void> {
    const [cert, key] = await Promise.all([readFile(this.o.tls.cert), readFile(this.o.tls.key)])
    const server = https.createServer({cert, key}, (req, res) => void this.handle(req, res))
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
    })
    const host = this.o.host ?? '127.0.0.1'
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.o.port ?? 0, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.server = server
    this.port = (server.address() as AddressInfo).port
    this.url = `https://${urlHost(host)}:${this.port}`
  }

  injectFault(fault: ArmFault): void {
    if (![429, 500, 503].includes(fault.status)) throw new Error(`Fault status must be 429, 500 or 503, not ${fault.status}`)
    if (!Number.isInteger(fault.times) || fault.times < 1) throw new Error(`Fault times must be a positive integer, not ${fault.times}`)
    this.faults.push({fault: {...fault}, remaining: fault.times})
  }

  hang(times: number): void {
    if (!Number.isInteger(times) || times < 0) throw new Error(`hang times must be a non-negative integer, not ${times}`)
    this.hangsLeft += times
  }

  clearFaults(): void {
    this.faults = []
    this.hangsLeft = 0
  }

  async close(): Promise<void> {
    for (const op of this.operations.values()) clearTimeout(op.timer)
    const server = this.server
    if (!server) return
    this.server = undefined
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    // Hung requests and keep-alive connections would keep close() waiting forever.
    for (const socket of this.sockets) socket.destroy()
    await closed
  }

  // ---- request pipeline ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://emulator.invalid')
    const entry: ArmRequestLogEntry = {method: req.method ?? 'GET', path: url.pathname, status: 0, at: new Date().toISOString()}
    this.requestLog.push(entry)
    const requestId = randomUUID()
    res.setHeader('x-ms-request-id', requestId)
    res.setHeader('x-ms-correlation-request-id', headerValue(req, 'x-ms-correlation-request-id') ?? requestId)
    const clientRequestId = headerValue(req, 'x-ms-client-request-id')
    if (clientRequestId) res.setHeader('x-ms-client-request-id', clientRequestId)
    try {
      const ex: Exchange = {req, res, entry, url, segments: decodeSegments(url.pathname)}
      if (ex.segments[0] === '_sandbox') {
        this.authenticate(ex)
        await this.control(ex)
      } else if (this.hangsLeft > 0) {
        this.hangsLeft--
      } else {
        this.authenticate(ex)
        this.applyFault(ex)
        checkApiVersion(ex)
        await this.route(ex)
      }
    } catch (err) {
      const e = err instanceof ArmError ? err : new ArmError(500, 'InternalServerError', `The emulator failed: ${(err as Error).message}`)
      if (res.headersSent) res.destroy()
      else send({res, entry}, e.status, {error: {code: e.code, message: e.message}}, e.headers)
    }
  }

  private authenticate(ex: Exchange): void {
    const header = headerValue(ex.req, 'authorization')
    // A challenge without `claims`/`insufficient_claims` makes the SDK's bearer policy give up at once (no CAE retry).
    const challenge = (description: string) => ({
      'WWW-Authenticate': `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="${description}"`,
    })
    if (!header) {
      const message = "Authentication failed. The 'Authorization' header is missing."
      throw new ArmError(401, 'AuthenticationFailed', message, challenge(message))
    }
    const match = /^Bearer\s+(.+)$/i.exec(header)
    if (!match) {
      const message = "Authentication failed. The 'Authorization' header is provided in an invalid format."
      throw new ArmError(401, 'AuthenticationFailed', message, challenge(message))
    }
    if (match[1] !== this.o.token) {
      const message = 'The access token is invalid.'
      throw new ArmError(401, 'InvalidAuthenticationToken', message, challenge(message))
    }
  }

  private applyFault(ex: Exchange): void {
    const path = ex.url.pathname.toLowerCase()
    const slot = this.faults.find((f) => !f.fault.pathIncludes || path.includes(f.fault.pathIncludes.toLowerCase()))
    if (!slot) return
    if (--slot.remaining <= 0) this.faults.splice(this.faults.indexOf(slot), 1)
    const {status, retryAfterSeconds} = slot.fault
    const seconds = status === 429 ? (retryAfterSeconds ?? 1) : retryAfterSeconds
    const retryAfter = seconds === undefined ? undefined : String(Math.max(0, Math.round(seconds)))
    const headers: Record<string, string> = retryAfter === undefined ? {} : {'Retry-After': retryAfter}
    if (status === 429) {
      throw new ArmError(429, 'TooManyRequests', `The request is being throttled. Please try again after ${retryAfter} seconds.`, headers)
    }
    if (status === 503) throw new ArmError(503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please try again later.', headers)
    throw new ArmError(500, 'InternalServerError', 'An unexpected error occurred while processing the request.', headers)
  }

  private async route(ex: Exchange): Promise<void> {
    const s = ex.segments
    if (!same(s[0], 'subscriptions') || s.length < 2) throw noRoute(ex)
    if (!same(s[1], this.o.subscriptionId)) throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${s[1]}' could not be found.`)
    if (same(s[2], 'providers')) return this.routeOperation(ex, s.slice(3))
    if (!same(s[2], 'resourceGroups') || s.length < 4) throw noRoute(ex)
    if (!same(s[3], this.o.resourceGroup)) throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${s[3]}' could not be found.`)
    if (!same(s[4], 'providers') || s.length < 6) throw noRoute(ex)
    if (!same(s[5], PROVIDER)) throw new ArmError(404, 'InvalidResourceNamespace', `The resource namespace '${s[5]}' is invalid.`)
    if (this.providerGone) throw providerGoneError(this.providerGone, s[6])
    if (!same(s[6], 'servers')) throw invalidType(s.slice(6, 7))
    if (s.length === 7) return this.listServers(ex)
    if (!same(s[7], this.o.serverName)) {
      throw new ArmError(404, 'ResourceNotFound',
        `The Resource '${PROVIDER}/servers/${s[7]}' under resource group '${s[3]}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`)
    }
    const [child, name, ...rest] = s.slice(8)
    if (rest.length > 0) throw invalidType(['servers', ...s.slice(8)])
    if (child === undefined) return this.serverRoute(ex)
    if (same(child, 'firewallRules')) return this.firewallRoute(ex, name)
    if (same(child, 'configurations')) return this.configurationRoute(ex, name)
    throw invalidType(['servers', child])
  }

  // ---- servers ----

  private async serverRoute(ex: Exchange): Promise<void> {
    allowMethods(ex, 'GET')
    send(ex, 200, await this.serverResource())
  }

  private async listServers(ex: Exchange): Promise<void> {
    allowMethods(ex, 'GET')
    send(ex, 200, {value: [await this.serverResource()]})
  }

  private async serverResource(): Promise<unknown> {
    const version = await this.o.replica.version()
    const earliestRestore = new Date(this.startedAt.getTime() - 7 * 24 * 3600_000)
    return {
      id: this.serverId(),
      name: this.o.serverName,
      type: `${PROVIDER}/servers`,
      location: LOCATION,
      tags: {},
      sku: sku(this.o.state.tier),
      properties: {
        administratorLogin: this.o.administratorLogin ?? 'datainadmin',
        version: /^\d+\.\d+/.exec(version)?.[0] ?? version,
        sslEnforcement: 'Enabled',
        minimalTlsVersion: 'TLS1_2',
        userVisibleState: 'Ready',
        ...(this.fqdn === '' ? {} : {fullyQualifiedDomainName: this.fqdn}),
        earliestRestoreDate: earliestRestore.toISOString(),
        storageProfile: {backupRetentionDays: 7, geoRedundantBackup: 'Disabled', storageMB: 51200, storageAutogrow: 'Enabled'},
        replicationRole: 'None',
        masterServerId: '',
        replicaCapacity: 5,
        publicNetworkAccess: 'Enabled',
        privateEndpointConnections: [],
      },
    }
  }

  private serverId(): string {
    const o = this.o
    return `/subscriptions/${o.subscriptionId}/resourceGroups/${o.resourceGroup}/providers/${PROVIDER}/servers/${o.serverName}`
  }

  // ---- firewall rules ----

  private async firewallRoute(ex: Exchange, name: string | undefined): Promise<void> {
    if (name === undefined) {
      allowMethods(ex, 'GET')
      return send(ex, 200, {value: [...this.o.state.firewallRules.values()].map((r) => this.ruleResource(r))})
    }
    allowMethods(ex, 'GET', 'PUT', 'DELETE')
    if (ex.req.method === 'GET') {
      const rule = this.findRule(name)
      if (!rule) throw childNotFound('firewallRules', name)
      return send(ex, 200, this.ruleResource(rule))
    }
    if (ex.req.method === 'PUT') return this.putRule(ex, name)
    return this.deleteRule(ex, name)
  }

  private async putRule(ex: Exchange, name: string): Promise<void> {
    if (!RULE_NAME.test(name)) {
      throw new ArmError(400, 'InvalidParameterValue',
        `Invalid value given for parameter firewallRuleName '${name}'. The name can contain only letters, digits, '-' and '_', and must be 1 to 128 characters long.`)
    }
    const props = propertiesOf(await readJson(ex))
    const start = ipAddressProperty(props, 'startIpAddress')
    const end = ipAddressProperty(props, 'endIpAddress')
    if (ipToNumber(start) > ipToNumber(end)) {
      throw new ArmError(400, 'InvalidParameterValue', `The start IP address '${start}' must be less than or equal to the end IP address '${end}'.`)
    }
    const existing = this.findRule(name)
    const rule: FirewallRule = {name: existing?.name ?? name, startIpAddress: start, endIpAddress: end}
    await this.change(ex, {
      syncStatus: existing ? 200 : 201,
      apply: async () => {
        this.o.state.firewallRules.set(rule.name, rule)
      },
      result: async () => this.ruleResource(rule),
    })
  }

  private async deleteRule(ex: Exchange, name: string): Promise<void> {
    const rule = this.findRule(name)
    if (!rule) return send(ex, 204)
    await this.change(ex, {syncStatus: 200, apply: async () => void this.o.state.firewallRules.delete(rule.name)})
  }

  /** ARM resource names are case-insensitive. */
  private findRule(name: string): FirewallRule | undefined {
    return [...this.o.state.firewallRules.values()].find((r) => same(r.name, name))
  }

  private ruleResource(rule: FirewallRule): unknown {
    return {
      id: `${this.serverId()}/firewallRules/${rule.name}`,
      name: rule.name,
      type: `${PROVIDER}/servers/firewallRules`,
      properties: {startIpAddress: rule.startIpAddress, endIpAddress: rule.endIpAddress},
    }
  }

  // ---- configurations ----

  private async configurationRoute(ex: Exchange, name: string | undefined): Promise<void> {
    if (name === undefined) {
      allowMethods(ex, 'GET')
      const all = await Promise.all(PARAMETERS.map((p) => this.configurationResource(p)))
      return send(ex, 200, {value: all.filter((c) => c !== undefined)})
    }
    allowMethods(ex, 'GET', 'PUT')
    const spec = PARAMETERS.find((p) => same(p.name, name))
    const current = spec && (await this.configurationResource(spec))
    if (!spec || !current) throw childNotFound('configurations', name)
    if (ex.req.method === 'GET') return send(ex, 200, current)
    const value = requestedValue(spec, propertiesOf(await readJson(ex)))
    await this.change(ex, {
      syncStatus: 200,
      apply: () => this.setParameter(spec, value),
      result: async () => this.configurationResource(spec),
    })
  }

  /** The configuration resource with the replica's live value; undefined when the replica lacks the variable. */
  private async configurationResource(spec: ParameterSpec): Promise<unknown> {
    const raw = await this.o.replica.getVariable(spec.name)
    if (raw === null) return undefined
    const value = presentValue(spec, raw)
    return {
      id: `${this.serverId()}/configurations/${spec.name}`,
      name: spec.name,
      type: `${PROVIDER}/servers/configurations`,
      properties: {
        value,
        description: spec.description,
        defaultValue: spec.defaultValue,
        dataType: spec.dataType,
        allowedValues: spec.allowedValues,
        source: same(value, spec.defaultValue) ? 'system-default' : 'user-override',
      },
    }
  }

  private async setParameter(spec: ParameterSpec, value: string): Promise<void> {
    try {
      await this.o.replica.setVariable(spec.name, value)
    } catch (err) {
      // ER_SLAVE_MUST_STOP (1198): e.g. replicate_wild_ignore_table while replication runs, a state conflict.
      const status = (err as {errno?: number}).errno === 1198 || /\bno: 1198\b/.test(String((err as Error).message)) ? 409 : 400
      throw new ArmError(status, 'ConfigurationUpdateFailed',
        `The configuration '${spec.name}' could not be set to '${value}': ${(err as Error).message}`)
    }
  }

  // ---- long-running operations ----

  /** Answers a change the way ARM does in the current LRO mode: at once, or 202 and an operation to poll. */
  private async change(ex: Exchange, c: {syncStatus: number; apply: () => Promise<void>; result?: () => Promise<unknown>}): Promise<void> {
    if (this.lroMode === 'sync') {
      await c.apply()
      return send(ex, c.syncStatus, c.result ? await c.result() : undefined)
    }
    const op = this.startOperation(c.apply, c.result)
    send(ex, 202, undefined, this.operationHeaders(ex, op.id))
  }

  private startOperation(apply: () => Promise<void>, result?: () => Promise<unknown>): AsyncOperation {
    const op: AsyncOperation = {
      id: randomUUID(), startTime: new Date().toISOString(), status: 'InProgress', polled: false, started: false, apply, result,
      timer: setTimeout(() => this.runOperation(op), UNPOLLED_OPERATION_COMPLETES_AFTER_MS),
    }
    op.timer.unref()
    this.forgetOldOperations()
    this.operations.set(op.id, op)
    return op
  }

  private runOperation(op: AsyncOperation): void {
    if (op.started) return
    op.started = true
    clearTimeout(op.timer)
    op.apply().then(
      () => settle(op, 'Succeeded'),
      (err: unknown) => settle(op, 'Failed', err instanceof ArmError ? err : new ArmError(500, 'InternalServerError', String(err))),
    )
  }

  /** A sandbox daemon may run for days: forget operations nobody can still be polling. */
  private forgetOldOperations(): void {
    const cutoff = Date.now() - 3600_000
    for (const [id, op] of this.operations) if (op.endTime && Date.parse(op.endTime) < cutoff) this.operations.delete(id)
  }

  private operationHeaders(ex: Exchange, id: string): Record<string, string> {
    const base = `https://${headerValue(ex.req, 'host') ?? urlHost(this.o.host ?? '127.0.0.1') + ':' + this.port}`
    const path = `/subscriptions/${this.o.subscriptionId}/providers/${PROVIDER}/locations/${LOCATION}`
    return {
      'Azure-AsyncOperation': `${base}${path}/azureAsyncOperation/${id}?api-version=${ARM_API_VERSION}`,
      Location: `${base}${path}/operationResults/${id}?api-version=${ARM_API_VERSION}`,
      'Retry-After': '0',
    }
  }

  /** `…/providers/Microsoft.DBforMariaDB/locations/{loc}/(azureAsyncOperation|operationResults)/{id}` */
  private async routeOperation(ex: Exchange, s: string[]): Promise<void> {
    if (s.length !== 5 || !same(s[0], PROVIDER) || !same(s[1], 'locations')) throw noRoute(ex)
    const kind = s[3]
    if (!same(kind, 'azureAsyncOperation') && !same(kind, 'operationResults')) throw invalidType(['locations', kind ?? ''])
    allowMethods(ex, 'GET')
    const op = same(s[2], LOCATION) ? this.operations.get(s[4] ?? '') : undefined
    if (!op) throw new ArmError(404, 'OperationNotFound', `The operation '${s[4]}' could not be found.`)
    // The first poll always sees the operation running; the change starts then (or after a short delay).
    const firstPoll = !op.polled
    op.polled = true
    const status = firstPoll || !op.endTime ? 'InProgress' : op.status
    this.runOperation(op)
    return this.operationAnswer(ex, op, kind, status)
  }

  private async operationAnswer(ex: Exchange, op: AsyncOperation, kind: string | undefined, status: AsyncOperation['status']): Promise<void> {
    if (same(kind, 'azureAsyncOperation')) {
      const body = {name: op.id, status, startTime: op.startTime, ...(op.endTime && status !== 'InProgress' ? {endTime: op.endTime} : {}),
        ...(status === 'Failed' ? {error: op.error} : {})}
      return send(ex, 200, body, status === 'InProgress' ? {'Retry-After': '0'} : {})
    }
    if (status === 'InProgress') return send(ex, 202, undefined, this.operationHeaders(ex, op.id))
    if (status === 'Failed') throw new ArmError(400, op.error?.code ?? 'OperationFailed', op.error?.message ?? 'The operation failed.')
    return op.result ? send(ex, 200, await op.result()) : send(ex, 204)
  }

  // ---- control API for the sandbox daemon ----

  private async control(ex: Exchange): Promise<void> {
    const what = `${ex.req.method} ${ex.segments.slice(1).join('/')}`
    switch (what) {
      case 'GET requests':
        return send(ex, 200, this.requestLog)
      case 'POST faults': {
        const fault = await readControlBody<ArmFault>(ex)
        asBadRequest(() => this.injectFault(fault))
        return send(ex, 204)
      }
      case 'DELETE faults':
        this.clearFaults()
        return send(ex, 204)
      case 'POST hang': {
        const {times} = await readControlBody<{times: number}>(ex)
        asBadRequest(() => this.hang(times))
        return send(ex, 204)
      }
      case 'PUT lro-mode': {
        const {mode} = await readControlBody<{mode: LroMode}>(ex)
        if (mode !== 'sync' && mode !== 'async') throw new ArmError(400, 'InvalidParameterValue', `mode must be 'sync' or 'async', not '${mode}'.`)
        this.lroMode = mode
        return send(ex, 204)
      }
      case 'PUT tier': {
        const {tier} = await readControlBody<{tier: SkuTier}>(ex)
        if (!TIERS.includes(tier)) throw new ArmError(400, 'InvalidParameterValue', `tier must be one of ${TIERS.join(', ')}, not '${tier}'.`)
        this.o.state.tier = tier
        return send(ex, 204)
      }
      default:
        throw noRoute(ex)
    }
  }
}

// ---- helpers ----

function settle(op: AsyncOperation, status: 'Succeeded' | 'Failed', error?: ArmError): void {
  op.status = status
  if (error) op.error = {code: error.code, message: error.message}
  op.endTime = new Date().toISOString()
}

function send(ex: Pick<Exchange, 'res' | 'entry'>, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  ex.entry.status = status
  for (const [name, value] of Object.entries(headers)) ex.res.setHeader(name, value)
  if (body === undefined) {
    ex.res.writeHead(status, {'Content-Length': '0'}).end()
    return
  }
  const text = JSON.stringify(body)
  ex.res.writeHead(status, {'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text)}).end(text)
}

function checkApiVersion(ex: Exchange): void {
  const version = ex.url.searchParams.get('api-version')
  if (version === null || version === '') {
    throw new ArmError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.")
  }
  if (version !== ARM_API_VERSION) {
    throw new ArmError(400, 'InvalidApiVersionParameter', `The api-version '${version}' is invalid. The supported versions are '${ARM_API_VERSION}'.`)
  }
}

function allowMethods(ex: Exchange, ...methods: string[]): void {
  if (!methods.includes(ex.req.method ?? '')) {
    throw new ArmError(405, 'MethodNotAllowed', `The requested HTTP method '${ex.req.method}' is not supported for '${ex.url.pathname}'.`, {
      Allow: methods.join(', '),
    })
  }
}

function noRoute(ex: Exchange): ArmError {
  return new ArmError(404, 'NotFound', `No HTTP resource was found that matches the request URI '${ex.url.pathname}'.`)
}

function invalidType(types: string[]): ArmError {
  return new ArmError(404, 'InvalidResourceType',
    `The resource type '${types.join('/')}' could not be found in the namespace '${PROVIDER}' for api version '${ARM_API_VERSION}'.`)
}

function childNotFound(type: 'firewallRules' | 'configurations', name: string): ArmError {
  return new ArmError(404, 'ResourceNotFound', `The requested resource of type '${PROVIDER}/servers/${type}' with name '${name}' was not found.`)
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new ArmError(413, 'RequestEntityTooLarge', 'The request content is too large.')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function readJson(ex: Exchange): Promise<unknown> {
  const text = await readBody(ex.req)
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new ArmError(400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: '${(err as Error).message}'.`)
  }
}

async function readControlBody<T>(ex: Exchange): Promise<T> {
  const body = await readJson(ex)
  if (typeof body !== 'object' || body === null) throw new ArmError(400, 'InvalidRequestContent', 'The request content must be a JSON object.')
  return body as T
}

function asBadRequest(action: () => void): void {
  try {
    action()
  } catch (err) {
    throw new ArmError(400, 'InvalidParameterValue', (err as Error).message)
  }
}

function propertiesOf(body: unknown): Record<string, unknown> {
  const props = (body as {properties?: unknown} | null)?.properties
  if (typeof props !== 'object' || props === null) {
    throw new ArmError(400, 'InvalidRequestContent', "The request content must be a JSON object with a 'properties' object.")
  }
  return props as Record<string, unknown>
}

function ipAddressProperty(props: Record<string, unknown>, name: string): string {
  const value = props[name]
  if (typeof value !== 'string' || !IPV4.test(value)) {
    throw new ArmError(400, 'InvalidParameterValue', `Invalid value given for parameter ${name}: '${String(value)}'. Specify a valid IPv4 address.`)
  }
  return value
}

function ipToNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0)
}

/** The value a configuration PUT asks for, validated and in ARM's spelling; `source: system-default` resets. */
function requestedValue(spec: ParameterSpec, props: Record<string, unknown>): string {
  if (spec.readOnly) throw new ArmError(400, 'ConfigurationReadOnly', `The configuration '${spec.name}' is read-only and cannot be changed.`)
  const raw = props.value ?? (props.source === 'system-default' ? spec.defaultValue : undefined)
  if (typeof raw !== 'string') {
    throw new ArmError(400, 'InvalidParameterValue', `Invalid value given for configuration '${spec.name}': a string 'value' is required.`)
  }
  const invalid = () =>
    new ArmError(400, 'InvalidParameterValue', `The value '${raw}' for configuration '${spec.name}' is not valid. Allowed values: '${spec.allowedValues}'.`)
  if (spec.dataType === 'Enumeration') {
    const allowed = spec.allowedValues.split(',').find((v) => same(v, raw))
    if (allowed === undefined) throw invalid()
    return allowed
  }
  if (spec.dataType === 'Integer') {
    const [min, max] = spec.allowedValues.split('-').map(Number)
    if (!/^\d+$/.test(raw) || Number(raw) < (min ?? 0) || Number(raw) > (max ?? Infinity)) throw invalid()
    return String(Number(raw))
  }
  return raw
}

/** MariaDB shows switches as ON/OFF or 1/0 depending on how they are read; ARM always says ON/OFF. */
function presentValue(spec: ParameterSpec, raw: string): string {
  if (spec.dataType !== 'Enumeration') return raw
  const allowed = spec.allowedValues.split(',')
  if (allowed.includes('ON') && allowed.includes('OFF')) {
    if (raw === '1') return 'ON'
    if (raw === '0') return 'OFF'
  }
  return allowed.find((v) => same(v, raw)) ?? raw
}

function sku(tier: SkuTier): {name: string; tier: SkuTier; capacity: number; family: string} {
  switch (tier) {
    case 'Basic':
      return {name: 'B_Gen5_1', tier, capacity: 1, family: 'Gen5'}
    case 'MemoryOptimized':
      return {name: 'MO_Gen5_2', tier, capacity: 2, family: 'Gen5'}
    default:
      return {name: 'GP_Gen5_2', tier, capacity: 2, family: 'Gen5'}
  }
}

function decodeSegments(pathname: string): string[] {
  try {
    return pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s))
  } catch {
    throw new ArmError(400, 'InvalidRequestUri', `The request URI '${pathname}' is not valid.`)
  }
}

/** ARM compares provider, type and resource names without regard to case. */
function same(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase()
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}

function providerGoneError(gone: ProviderGone, type = 'servers'): ArmError {
  if (gone.code === 'NoRegisteredProviderFound') {
    return new ArmError(gone.status, gone.code,
      `No registered resource provider found for location '${LOCATION}' and API version '${ARM_API_VERSION}' for type '${type}'. The supported api-versions are ''. The supported locations are ''.`)
  }
  if (gone.code === 'InvalidResourceNamespace') return new ArmError(gone.status, gone.code, `The resource namespace '${PROVIDER}' is invalid.`)
  return new ArmError(gone.status, gone.code, 'The requested resource was not found.')
}
