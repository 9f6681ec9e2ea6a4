import type {FirewallRule} from '@azure/arm-mariadb'
import {createHash} from 'node:crypto'
import {lookup} from 'node:dns/promises'
import {isIP} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'
import type {MariaDBManagementClient} from '@azure/arm-mariadb'
import type {Connection} from 'mariadb'
import type {Settings, StepRecord} from '../state/schema.js'
import {armCall, type AzureTarget} from './arm.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {firewallAddressProblem, isLocalHost} from '../lib/ip-ranges.js'
import {connectTo, GatewayRefusedError, type ServerAddress} from '../lib/mariadb.js'

/** What the firewall code needs of a step's context (StepContext, steps/step.ts, has all of it). */
export interface FirewallContext {
  profile: string
  settings: Settings
  replica(): Promise<Connection>
  replicaAddress: ServerAddress
  signal: AbortSignal
  ui: {info(message: string): void; status(message: string): void}
  arm?: {client: MariaDBManagementClient; target: AzureTarget}
  /** Outputs of the steps already done, by step id. */
  outputs: Partial<Record<string, Record<string, unknown>>>
  previous?: StepRecord
  /** Records the rules as they are written, so that a crash leaves them known as datain's. */
  progress(output: Record<string, unknown>): Promise<void>
  store: {journal(event: string, data: Record<string, unknown>): Promise<void>}
}

/** What a datain rule is for: the source's address (for the replica's replication) or datain's own. */
export type RulePurpose = 'source' | 'client'

/** How long datain waits for a new rule to let it through Azure's gateway. */
export const RULE_APPLY_TIMEOUT_MS = 120_000

const RULE_NAME_MAX = 128

/**
 * The name of datain's rule for `purpose` in `profile`: `datain-<profile>-source` or
 * `datain-<profile>-client`, so that the rule says whose it is and `stop --cleanup` removes exactly
 * datain's. ARM allows letters, digits, `-` and `_` (1-128) and compares names without case, so a
 * profile name with other characters (`.`) or capitals gets them mapped to `-` / lower case plus a
 * short hash of the real name: `eu.prod` and `eu-prod` never share a rule.
 */
export function firewallRuleName(profile: string, purpose: RulePurpose): string {
  const mapped = profile.replace(/[^A-Za-z0-9_-]/g, '-').toLowerCase()
  const distinct = mapped === profile ? mapped : `${mapped}-${createHash('sha256').update(profile).digest('hex').slice(0, 6)}`
  const suffix = `-${purpose}`
  return `datain-${distinct}`.slice(0, RULE_NAME_MAX - suffix.length) + suffix
}

/** ARM resource names are case-insensitive. */
function sameName(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase()
}

/** The IPv4 address as a number; NaN for anything else. */
export function ipv4ToNumber(ip: string | undefined): number {
  const parts = (ip ?? '').split('.')
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return Number.NaN
  return parts.reduce((n, p) => n * 256 + Number(p), 0)
}

/** Whether the rule's range covers `ip`. */
export function ruleCovers(rule: Pick<FirewallRule, 'startIpAddress' | 'endIpAddress'>, ip: string): boolean {
  const n = ipv4ToNumber(ip)
  return ipv4ToNumber(rule.startIpAddress) <= n && n <= ipv4ToNumber(rule.endIpAddress)
}

/**
 * The source's IPv4 address for its firewall rule: `--source-ip`, else the public host itself when it
 * is an address, else what it resolves to (Azure's firewall takes IPv4 ranges only). E_SOURCE_IP (exit 2).
 */
export async function resolveSourceIp(settings: Settings): Promise<string> {
  const ip = await sourceIpv4(settings)
  const problem = firewallAddressProblem(ip, await isLocalHost(settings.replica.host))
  if (problem) {
    throw sourceIpError(
      `The source's address for the replica's firewall is unusable: ${problem}. datain opens the firewall only to one public unicast IPv4 address ` +
        `(or a loopback or private one when the replica's own address is too). Give the source's public IPv4 address with 'datain init --force --source-ip A.B.C.D'.`,
    )
  }
  return ip
}

const sourceIpError = (message: string, cause?: unknown) =>
  new DatainError(message, {code: 'E_SOURCE_IP', exit: ExitCode.usage, suggestions: ['datain init --force --source-ip A.B.C.D'], cause})

async function sourceIpv4(settings: Settings): Promise<string> {
  const fail = sourceIpError
  const given = settings.source.ip
  if (given !== undefined) {
    if (isIP(given) === 4) return given
    throw fail(`The source's IP '${given}' (--source-ip) is not an IPv4 address, and the replica's firewall takes IPv4 addresses only.`)
  }
  const host = settings.source.publicHost
  if (isIP(host) === 4) return host
  if (isIP(host) === 6) {
    throw fail(`The source's public host ${host} is an IPv6 address, and the replica's firewall takes IPv4 addresses only: give the source's IPv4 address with --source-ip.`)
  }
  try {
    return (await lookup(host, {family: 4})).address
  } catch (error) {
    throw fail(
      `The source's public host ${host} does not resolve to an IPv4 address (${(error as NodeJS.ErrnoException).code ?? error}), ` +
        "so datain cannot name it in the replica's firewall: give it with --source-ip.",
      error,
    )
  }
}

/** Whether Azure's gateway lets this machine through to the replica now. */
export type ReplicaProbe = {open: true} | {open: false; refusal: GatewayRefusedError}

/** Tries the context's replica connection: a refusal by the gateway is an answer, anything else an error. */
export async function probeReplica(ctx: Pick<FirewallContext, 'replica'>): Promise<ReplicaProbe> {
  try {
    await ctx.replica()
    return {open: true}
  } catch (error) {
    if (error instanceof GatewayRefusedError) return {open: false, refusal: error}
    throw error
  }
}

/**
 * The rules datain recorded as its own for this profile (`createdRules`): in the firewall step's
 * output, the preflight step's (which adds the client rule when the gateway refuses at the very
 * start) and the progress an unfinished run of the current step left.
 */
export function recordedRules(ctx: Pick<FirewallContext, 'outputs' | 'previous'>): string[] {
  const names = (output: Record<string, unknown> | undefined) =>
    Array.isArray(output?.createdRules) ? output.createdRules.filter((n): n is string => typeof n === 'string') : []
  return mergeNames([], [...names(ctx.outputs.firewall), ...names(ctx.outputs.preflight), ...names(ctx.previous?.output)])
}

/** A range datain gave one of its rules; `createdRanges` in the step outputs, what `stop --cleanup` checks before it deletes. */
export interface RuleRange {
  name: string
  startIpAddress: string
  endIpAddress: string
}

/**
 * Every range datain wrote to its rules for this profile (`createdRanges`, recorded before each
 * PUT, so a rule updated to a new address keeps the old range too): a rule of datain's name whose
 * range is none of these was changed by someone else.
 */
export function recordedRanges(ctx: Pick<FirewallContext, 'outputs' | 'previous'>): RuleRange[] {
  return mergeRanges([], [...rangesIn(ctx.outputs.firewall), ...rangesIn(ctx.outputs.preflight), ...rangesIn(ctx.previous?.output)])
}

/** The `createdRanges` of a step output, ignoring anything malformed. */
export function rangesIn(output: Record<string, unknown> | undefined): RuleRange[] {
  if (!Array.isArray(output?.createdRanges)) return []
  return output.createdRanges.filter(
    (r): r is RuleRange => typeof r === 'object' && r !== null && ['name', 'startIpAddress', 'endIpAddress'].every((k) => typeof (r as Record<string, unknown>)[k] === 'string'),
  )
}

export function mergeRanges(a: readonly RuleRange[], b: readonly RuleRange[]): RuleRange[] {
  const out = [...a]
  for (const r of b) {
    if (!out.some((o) => sameName(o.name, r.name) && o.startIpAddress === r.startIpAddress && o.endIpAddress === r.endIpAddress)) out.push(r)
  }
  return out
}

/** The replica's rules and which are datain's: read once per step, kept current as rules are added. */
export interface RuleBook {
  rules: FirewallRule[]
  /** Lower-case names of datain's own rules: recorded earlier, or created now. */
  own: Set<string>
  /** Rules of others that cover an address datain needs, reused as they are. */
  reused: string[]
  /** The ranges datain gave its rules: recorded earlier, or written now. */
  ranges: RuleRange[]
}

/** What datain would do for one address. */
export type RuleDecision =
  | {kind: 'covered'; rule: FirewallRule; own: boolean}
  | {kind: 'put'; name: string; existing?: FirewallRule}
  | {kind: 'conflict'; rule: FirewallRule}

/**
 * For `ip`: a rule that covers it already (datain's own of that name first, then any of datain's,
 * then anyone's), else datain's rule of that name to create or (when it is datain's and names
 * another address) update; a rule of that name that datain did not record and that names other
 * addresses is a conflict, never overwritten.
 */
export function decideRule(book: RuleBook, name: string, ip: string): RuleDecision {
  const isOwn = (rule: FirewallRule) => book.own.has((rule.name ?? '').toLowerCase())
  const covering = book.rules.filter((r) => ruleCovers(r, ip))
  const best = covering.find((r) => sameName(r.name, name)) ?? covering.find(isOwn) ?? covering[0]
  if (best) return {kind: 'covered', rule: best, own: isOwn(best)}
  const named = book.rules.find((r) => sameName(r.name, name))
  if (named && !isOwn(named)) return {kind: 'conflict', rule: named}
  return {kind: 'put', name: named?.name ?? name, existing: named}
}

/** Names of datain's own rules that exist, in the replica's order: what `createdRules` records. */
export function ownRules(book: RuleBook): string[] {
  return book.rules.filter((r) => book.own.has((r.name ?? '').toLowerCase())).map((r) => r.name!)
}

type Arm = NonNullable<FirewallContext['arm']>

/** Runs an ARM call; once the run is aborted, the abort is what surfaces, not an ARM error. */
async function arm<T>(ctx: Pick<FirewallContext, 'signal'>, target: AzureTarget, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await armCall(target, what, call)
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason
    throw error
  }
}

/** Lists the replica's firewall rules into a book, with datain's recorded rules marked as its own. */
export async function openRuleBook(ctx: Pick<FirewallContext, 'signal' | 'outputs' | 'previous'>, azure: Arm): Promise<RuleBook> {
  const {client, target} = azure
  const rules = await arm(ctx, target, `list the firewall rules of '${target.server}'`, async () => {
    const all: FirewallRule[] = []
    for await (const rule of client.firewallRules.listByServer(target.resourceGroup, target.server, {abortSignal: ctx.signal})) all.push(rule)
    return all
  })
  return {rules, own: new Set(recordedRules(ctx).map((n) => n.toLowerCase())), reused: [], ranges: recordedRanges(ctx)}
}

/** The REST call that creates or updates a rule, for plans and messages. */
export function putRuleText(target: AzureTarget | undefined, name: string, ip: string): string {
  const server = target
    ? `/subscriptions/${target.subscription}/resourceGroups/${target.resourceGroup}/providers/Microsoft.DBforMariaDB/servers/${target.server}`
    : '…/servers/SERVER'
  return `PUT ${server}/firewallRules/${name}?api-version=2018-06-01 {"properties":{"startIpAddress":"${ip}","endIpAddress":"${ip}"}}`
}

/**
 * Makes sure a rule covers `ip` for `purpose`: reuses one that does (another's is noted in
 * `book.reused`, never recorded as datain's), else creates or updates datain's own. The rule is
 * recorded as datain's (`createdRules` in the step's progress) before the PUT, so that a crash
 * right after it still knows the rule is datain's. Returns the covering rule's name and whether
 * datain wrote it now.
 */
export async function ensureRule(
  ctx: FirewallContext,
  azure: Arm,
  book: RuleBook,
  purpose: RulePurpose,
  ip: string,
): Promise<{name: string; written: boolean}> {
  const decision = decideRule(book, firewallRuleName(ctx.profile, purpose), ip)
  if (decision.kind === 'covered') {
    const name = decision.rule.name!
    if (!decision.own && !book.reused.includes(name)) book.reused.push(name)
    return {name, written: false}
  }
  if (decision.kind === 'conflict') throw ruleConflict(ctx, decision.rule, purpose, ip)

  const {name} = decision
  const {client, target} = azure
  book.own.add(name.toLowerCase())
  book.ranges = mergeRanges(book.ranges, [{name, startIpAddress: ip, endIpAddress: ip}])
  await ctx.progress({createdRules: [...new Set([...ownRules(book), name])], createdRanges: book.ranges})
  const rule = await arm(ctx, target, `${decision.existing ? 'update' : 'create'} the firewall rule '${name}' on '${target.server}'`, () =>
    client.firewallRules.beginCreateOrUpdateAndWait(target.resourceGroup, target.server, name, {startIpAddress: ip, endIpAddress: ip}, {abortSignal: ctx.signal}),
  )
  const written: FirewallRule = {...rule, name: rule.name ?? name, startIpAddress: rule.startIpAddress ?? ip, endIpAddress: rule.endIpAddress ?? ip}
  book.rules = [...book.rules.filter((r) => !sameName(r.name, name)), written]
  ctx.ui.info(`${decision.existing ? 'Updated' : 'Added'} the firewall rule ${name} on the replica for ${purpose === 'source' ? "the source's address" : "datain's own address"} ${ip}.`)
  await ctx.store.journal('firewall-rule', {name, ip, purpose, action: decision.existing ? 'updated' : 'created'})
  return {name, written: true}
}

function ruleConflict(ctx: FirewallContext, rule: FirewallRule, purpose: RulePurpose, ip: string): DatainError {
  const target = ctx.arm?.target
  const remove = `az mariadb server firewall-rule delete --resource-group ${target?.resourceGroup ?? 'RG'} --server-name ${target?.server ?? 'SERVER'} --name ${rule.name}`
  return new DatainError(
    `The replica has a firewall rule named ${rule.name} (${rule.startIpAddress}-${rule.endIpAddress}), the name datain gives its rule for ` +
      `${purpose === 'source' ? "the source's address" : 'its own address'} ${ip} in profile '${ctx.profile}', but datain did not create it, ` +
      `so it will not overwrite it. Delete it if it is a leftover (${remove}) or use another --profile, then run 'datain start' again.`,
    {code: 'E_FIREWALL_RULE_EXISTS', exit: ExitCode.failed, suggestions: [remove]},
  )
}

/** The by-hand command that adds a rule for `ip`. */
export function addRuleCommand(settings: Settings, profile: string, purpose: RulePurpose, ip: string): string {
  return (
    `az mariadb server firewall-rule create --resource-group ${settings.azure.resourceGroup ?? 'RG'} ` +
    `--server-name ${settings.azure.server ?? 'SERVER'} --name ${firewallRuleName(profile, purpose)} --start-ip-address ${ip} --end-ip-address ${ip}`
  )
}

/** E_REPLICA_FIREWALL (exit 4) when the gateway refuses datain and datain may not add a rule. */
export function refusedWithoutFirewall(ctx: Pick<FirewallContext, 'settings' | 'profile' | 'arm'>, ip: string, refusal: GatewayRefusedError): DatainError {
  const why = !ctx.settings.azure.manageFirewall ? 'datain leaves its firewall alone (--no-firewall)' : 'datain makes no Azure call (--no-arm)'
  const command = addRuleCommand(ctx.settings, ctx.profile, 'client', ip)
  return new DatainError(
    `The replica's firewall does not let this machine in: Azure's gateway at ${ctx.settings.replica.host}:${ctx.settings.replica.port} ` +
      `refuses ${ip} (error 9000), and ${why}. Add a rule for ${ip} (Azure portal: the server's Connection security, or ${command}), ` +
      `then run 'datain start --profile ${ctx.profile}' again.`,
    {code: 'E_REPLICA_FIREWALL', exit: ExitCode.unreachable, suggestions: [command], cause: refusal},
  )
}

/**
 * The address datain may open the replica's firewall to: `--client-ip`, else the one the gateway
 * named in error 9000. That text arrives before TLS, so whoever sits on the path can write it: it is
 * taken only when it is a public unicast IPv4 address, or a loopback/private one while the replica's
 * own address is loopback/private too (never 0.0.0.0, which Azure reads as "allow all Azure services").
 */
export async function trustedClientIp(ctx: Pick<FirewallContext, 'settings' | 'profile'>, refusal: GatewayRefusedError): Promise<string> {
  const given = ctx.settings.clientIp
  const ip = given ?? refusal.clientIp
  const problem = firewallAddressProblem(ip, await isLocalHost(ctx.settings.replica.host))
  if (!problem) return ip
  const fix = `datain init --profile ${ctx.profile} --force --client-ip A.B.C.D`
  throw new DatainError(
    given
      ? `The profile's --client-ip is not an address datain opens the replica's firewall to: ${problem}. Give this machine's public IPv4 address (${fix}).`
      : `Azure's gateway refuses this machine (error 9000) and named an address datain will not open the replica's firewall to: ${problem}. ` +
          `The gateway's text arrives before TLS, so datain trusts it only for a public unicast address. Give this machine's public IPv4 address ` +
          `as the replica sees it with --client-ip (${fix}), or add the firewall rule yourself.`,
    {code: 'E_CLIENT_IP_UNTRUSTED', exit: ExitCode.unreachable, suggestions: [fix], cause: refusal},
  )
}

/**
 * Retries connecting to the replica until Azure's gateway lets this machine in: a new rule takes a
 * moment to apply. Backs off from 0.5 s to 10 s, gives up after `timeoutMs` (E_REPLICA_FIREWALL,
 * exit 4) and stops at once when the run is aborted. Each try is a fresh connection, closed again.
 */
export async function waitForReplicaAccess(
  ctx: Pick<FirewallContext, 'replicaAddress' | 'signal' | 'ui' | 'profile'>,
  options: {ip: string; rule: string; timeoutMs?: number},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? RULE_APPLY_TIMEOUT_MS
  const started = Date.now()
  let delay = 500
  for (;;) {
    ctx.signal.throwIfAborted()
    let refusal: GatewayRefusedError
    try {
      const conn = await connectTo('replica', ctx.replicaAddress)
      await conn.end()
      return
    } catch (error) {
      if (!(error instanceof GatewayRefusedError)) throw error
      refusal = error
    }
    const left = started + timeoutMs - Date.now()
    if (left <= 0) {
      const seen = refusal.clientIp !== options.ip && isIP(refusal.clientIp) === 4
      throw new DatainError(
        `The firewall rule ${options.rule} covers ${options.ip}, but after ${Math.round(timeoutMs / 1000)} s Azure's gateway still refuses this machine` +
          (seen ? `, which it sees as ${refusal.clientIp}: give that address with --client-ip, or leave --client-ip out so that datain learns it.` : '. Azure may need longer to apply a rule;') +
          ` Run 'datain start --profile ${ctx.profile}' again: it goes on from here.`,
        {code: 'E_REPLICA_FIREWALL', exit: ExitCode.unreachable, cause: refusal},
      )
    }
    ctx.ui.status(`Waiting for the firewall rule ${options.rule} to let ${options.ip} through Azure's gateway…`)
    try {
      await sleep(Math.min(delay, left), undefined, {signal: ctx.signal})
    } catch (error) {
      throw ctx.signal.aborted ? ctx.signal.reason : error
    }
    delay = Math.min(delay * 2, 10_000)
  }
}

/** What {@link ensureClientAccess} found or did. */
export interface ClientAccess {
  /** The address the rule is for: --client-ip, or the one Azure's gateway named; undefined when it let datain in and none was given. */
  clientIp?: string
  /** The rule that lets datain in, when one had to be found or made. */
  rule?: string
  /**
   * datain's own rules (earlier recorded ones carried forward, plus one created now). The caller
   * keeps this in its step output under `createdRules`, where the firewall step and own-work find it.
   */
  createdRules: string[]
  /** The ranges datain gave its rules (see {@link recordedRanges}); kept beside `createdRules`. */
  createdRanges: RuleRange[]
  /** Rules of others reused as they are. */
  reusedRules: string[]
}

/**
 * Lets datain through the replica's firewall: when Azure's gateway refuses this machine (error
 * 9000), adds (or reuses) a rule for `--client-ip` or the address the gateway names, records it as
 * datain's in the current step's progress before creating it, and waits until the gateway lets datain
 * in. For the preflight step, which needs the replica before the firewall step runs. Safe to run
 * twice: the second finds the rule (or the open gateway) and changes nothing. With --no-firewall or
 * --no-arm a refusal is E_REPLICA_FIREWALL (exit 4) naming the address and the command to add it by hand.
 */
export async function ensureClientAccess(ctx: FirewallContext, options: {timeoutMs?: number} = {}): Promise<ClientAccess> {
  const probe = await probeReplica(ctx)
  const recorded = recordedRules(ctx)
  if (probe.open) return {clientIp: ctx.settings.clientIp, createdRules: recorded, createdRanges: recordedRanges(ctx), reusedRules: []}
  const ip = await trustedClientIp(ctx, probe.refusal)
  if (!ctx.settings.azure.manageFirewall || !ctx.arm) throw refusedWithoutFirewall(ctx, ip, probe.refusal)
  const book = await openRuleBook(ctx, ctx.arm)
  const rule = await ensureRule(ctx, ctx.arm, book, 'client', ip)
  await waitForReplicaAccess(ctx, {ip, rule: rule.name, timeoutMs: options.timeoutMs})
  return {clientIp: ip, rule: rule.name, createdRules: mergeNames(recorded, ownRules(book)), createdRanges: book.ranges, reusedRules: book.reused}
}

/** `a` then the names of `b` not in it (without regard to case), keeping the spelling first seen. */
export function mergeNames(a: readonly string[], b: readonly string[]): string[] {
  const out = [...a]
  for (const name of b) if (!out.some((n) => sameName(n, name))) out.push(name)
  return out
}
