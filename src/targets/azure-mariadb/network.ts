import type {FirewallRule} from '@azure/arm-mariadb'
import {armCall, armServerUrl, type ArmAccess} from '../../azure/arm.js'
import {resolveSourceIp, trustedClientIp} from '../../azure/firewall-addresses.js'
import {decideRule, ensureRule, openRuleBook, ownRules, putRuleText, type RuleBook} from '../../azure/firewall-rule-book.js'
import {firewallRuleName, mergeNames, recordedRanges, recordedRules, ruleCovers} from '../../azure/firewall-rules.js'
import {ensureClientAccess, probeReplica, refusedWithoutFirewall, ruleApplyBoundText, waitForReplicaAccess} from '../../azure/replica-access.js'
import type {PlannedAction} from '../../lib/planned-action.js'
import type {PreflightOutput} from '../../state/step-outputs.js'
import type {FirewallOutput, NetworkContext, NetworkDriver, RuleCleanup, RuleCleanupContext} from '../target.js'

/**
 * Firewall rules on the replica, through ARM: one for the source's IP (the how-to asks for it) and,
 * when Azure's gateway refuses this machine, one for the address datain connects from, then a
 * bounded wait until the gateway lets datain in. With --no-firewall or --no-arm datain only looks.
 *
 * Safe to re-run: rules are found by address and by name first. A rule that already covers an
 * address is reused and not recorded as datain's; datain's own (`datain-<profile>-source|client`)
 * are recorded before they are created, so a crash after the PUT still knows them. Two runs make
 * one rule per address.
 */
export function azureNetwork(arm: ArmAccess | undefined): NetworkDriver {
  return {
    plan: (ctx) => planFirewall({...ctx, arm}),
    open: (ctx) => openFirewall({...ctx, arm}),
    letClientIn: (ctx) => ensureClientAccess({...ctx, arm}),
    close: (ctx, recorded) => deleteRules({...ctx, arm}, recorded),
  }
}

type Ctx = NetworkContext & {arm: ArmAccess | undefined}

async function planFirewall(ctx: Ctx): Promise<PlannedAction[]> {
    const sourceIp = await resolveSourceIp(ctx.settings)
    const probe = await probeReplica(ctx)
    const actions: PlannedAction[] = [
      {on: 'replica', kind: 'check', text: `connect through Azure's gateway: ${probe.open ? 'it lets this machine in' : `it refuses ${probe.refusal.clientIp} (error 9000)`}`},
    ]
    const clientIp = probe.open ? undefined : await trustedClientIp(ctx, probe.refusal)
    if (!ctx.settings.azure.manageFirewall || !ctx.arm) {
      const why = ctx.settings.azure.manageFirewall ? '--no-arm' : '--no-firewall'
      actions.push({on: 'azure', kind: 'note', text: `${why}: no firewall rule is added or changed.`})
      if (clientIp) actions.push({on: 'azure', kind: 'note', text: `Would stop: the gateway refuses ${clientIp} and datain may not add a rule (E_REPLICA_FIREWALL).`})
      return actions
    }
    actions.push({on: 'azure', kind: 'arm', text: `GET ${armServerUrl(ctx.arm.target)}/firewallRules?api-version=2018-06-01`})
    const book = await openRuleBook(ctx, ctx.arm)
    // In the run's order: the preflight step lets datain in first (its checks need the replica), so
    // the client's rule comes before the source's, which it may already cover.
    if (clientIp) {
      actions.push({on: 'azure', kind: 'note', text: "At the start of the preflight step, so that its checks reach the replica:"})
      actions.push(planRule(ctx, book, 'client', clientIp))
      actions.push({on: 'replica', kind: 'check', text: `retry connecting until the gateway lets ${clientIp} in (up to ${ruleApplyBoundText()})`})
    }
    actions.push(planRule(ctx, book, 'source', sourceIp))
    return actions
  }

async function openFirewall(ctx: Ctx): Promise<FirewallOutput> {
    const sourceIp = await resolveSourceIp(ctx.settings)
    const probe = await probeReplica(ctx)
    const clientIp = probe.open ? ctx.settings.clientIp : await trustedClientIp(ctx, probe.refusal)

    if (!ctx.settings.azure.manageFirewall || !ctx.arm) {
      if (!probe.open) throw refusedWithoutFirewall(ctx, clientIp!, probe.refusal)
      await noteSourceCoverage(ctx, sourceIp)
      return {sourceIp, clientIp: clientIp ?? null, createdRules: recordedRules(ctx), createdRanges: recordedRanges(ctx), reusedRules: [], managed: false}
    }

    const book = await openRuleBook(ctx, ctx.arm)
    await ensureRule(ctx, ctx.arm, book, 'source', sourceIp)
    // Only when refused: if the gateway lets datain in, some rule covers it already.
    if (!probe.open) {
      const client = await ensureRule(ctx, ctx.arm, book, 'client', clientIp!)
      await waitForReplicaAccess(ctx, {ip: clientIp!, rule: client.name})
    }
    return {sourceIp, clientIp: clientIp ?? null, createdRules: ownRules(book), createdRanges: book.ranges, reusedRules: book.reused, managed: true}}

function planRule(ctx: Ctx, book: RuleBook, purpose: 'source' | 'client', ip: string): PlannedAction {
  const whose = purpose === 'source' ? "the source's address" : "datain's address"
  const decision = decideRule(book, firewallRuleName(ctx.profile, purpose), ip)
  switch (decision.kind) {
    case 'covered': {
      const rule = decision.rule
      return {on: 'azure', kind: 'note', text: `${whose} ${ip} is covered by ${decision.own ? "datain's" : 'the existing'} rule ${rule.name} (${rule.startIpAddress}-${rule.endIpAddress}): nothing to add.`}
    }
    case 'conflict':
      return {on: 'azure', kind: 'note', text: `Would stop: a rule named ${decision.rule.name} exists for other addresses and datain did not create it (E_FIREWALL_RULE_EXISTS).`}
    case 'put':
      // The plan reads the next address against the rule it would have added.
      book.own.add(decision.name.toLowerCase())
      book.rules = [...book.rules.filter((r) => r.name?.toLowerCase() !== decision.name.toLowerCase()), {name: decision.name, startIpAddress: ip, endIpAddress: ip}]
      return {on: 'azure', kind: 'arm', text: putRuleText(ctx.arm?.target, decision.name, ip)}
  }
}

/** With --no-firewall, say so when no rule covers the source (datain only reads, and only with ARM). */
async function noteSourceCoverage(ctx: Ctx, sourceIp: string): Promise<void> {
  if (!ctx.arm) {
    ctx.ui.info(`--no-arm: datain added no firewall rule; the replica's firewall must allow the source's address ${sourceIp}, as Azure's how-to asks.`)
    return
  }
  const book = await openRuleBook(ctx, ctx.arm)
  const covering = book.rules.find((r) => ruleCovers(r, sourceIp))
  ctx.ui.info(
    covering
      ? `--no-firewall: the replica's rule ${covering.name} covers the source's address ${sourceIp}.`
      : `--no-firewall: no rule on the replica covers the source's address ${sourceIp}; Azure's how-to asks for one. datain adds none.`,
  )
}

/** `stop --cleanup`: deletes the rules datain created (recorded by the firewall and preflight steps), if they still have datain's ranges. */
async function deleteRules(o: RuleCleanupContext & {arm: ArmAccess | undefined}, recorded: {firewall: Partial<FirewallOutput>; preflight: Partial<PreflightOutput>}): Promise<RuleCleanup> {
  const {firewall, preflight} = recorded
  const names = mergeNames(firewall.createdRules ?? [], preflight.createdRules ?? [])
  const result: RuleCleanup = {deleted: [], absent: [], left: [], changed: []}
  if (names.length === 0) return result
  if (!o.arm) {
    result.left = names
    o.ui.info(`datain makes no ARM call for this profile, so it leaves its firewall rules ${names.join(', ')}: delete them in the Azure portal or with 'az mariadb server firewall-rule delete'.`)
    return result
  }
  const {client, target} = o.arm
  const rules = await armCall(target, `list the firewall rules of '${target.server}'`, async () => {
    const all: FirewallRule[] = []
    for await (const rule of client.firewallRules.listByServer(target.resourceGroup, target.server)) all.push(rule)
    return all
  })
  const isDatains = datainRanges(firewall, preflight)
  // datain's own access goes last: once it is gone, Azure's gateway may refuse this machine.
  const clientRule = firewallRuleName(o.profile, 'client').toLowerCase()
  const ordered = [...names].sort((a, b) => Number(a.toLowerCase() === clientRule) - Number(b.toLowerCase() === clientRule))
  for (const name of ordered) {
    // ARM compares rule names without regard to case.
    const rule = rules.find((r) => r.name?.toLowerCase() === name.toLowerCase())
    if (!rule?.name) {
      result.absent.push(name)
      continue
    }
    const range = `${rule.startIpAddress}-${rule.endIpAddress}`
    if (!isDatains(rule)) {
      result.changed.push({name: rule.name, startIpAddress: rule.startIpAddress ?? '', endIpAddress: rule.endIpAddress ?? ''})
      o.ui.info(
        `Left the firewall rule ${rule.name} (${range}): it has the name datain gave its rule, but not a range datain gave it, so someone changed it since. ` +
          `Delete it by hand if nothing needs it ('az mariadb server firewall-rule delete --name ${rule.name}').`,
      )
      continue
    }
    await armCall(target, `delete the firewall rule '${rule.name}' of '${target.server}'`, () =>
      client.firewallRules.beginDeleteAndWait(target.resourceGroup, target.server, rule.name!),
    )
    result.deleted.push(rule.name)
    o.ui.info(`Deleted the firewall rule ${rule.name} (${range}) that datain had added on the replica.`)
    await o.store.journal('firewall-rule-deleted', {name: rule.name, startIpAddress: rule.startIpAddress, endIpAddress: rule.endIpAddress})
  }
  return result
}

/**
 * Whether a rule of datain's name still has a range datain gave it (`createdRanges`). A checkpoint
 * of an older datain recorded no ranges: its rules were single addresses, the source's or datain's own.
 */
function datainRanges(...outputs: Array<Partial<FirewallOutput> | Partial<PreflightOutput>>): (rule: FirewallRule) => boolean {
  const ranges = outputs.flatMap((output) => output.createdRanges ?? [])
  const addresses = outputs.flatMap((output) => [output.sourceIp, output.clientIp]).filter((ip): ip is string => typeof ip === 'string')
  return (rule) => {
    const own = ranges.filter((r) => r.name.toLowerCase() === rule.name?.toLowerCase())
    if (own.length > 0) return own.some((r) => r.startIpAddress === rule.startIpAddress && r.endIpAddress === rule.endIpAddress)
    return rule.startIpAddress === rule.endIpAddress && addresses.includes(rule.startIpAddress ?? '')
  }
}

