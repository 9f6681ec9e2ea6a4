import type {FirewallRule} from '@azure/arm-mariadb'
import type {Settings} from '../state/schema.js'
import {armCall, armServerUrl, type AzureTarget} from './arm.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {
  type FirewallContext,
  firewallRuleName,
  mergeRanges,
  recordedRanges,
  recordedRules,
  ruleCovers,
  type RulePurpose,
  type RuleRange,
  sameName,
} from './firewall-rules.js'

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
  const server = target ? armServerUrl(target) : '…/servers/SERVER'
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
