import {
  decideRule,
  ensureRule,
  firewallRuleName,
  openRuleBook,
  ownRules,
  probeReplica,
  putRuleText,
  recordedRanges,
  recordedRules,
  refusedWithoutFirewall,
  resolveSourceIp,
  ruleCovers,
  trustedClientIp,
  waitForReplicaAccess,
  type RuleBook,
} from '../azure/firewall-rules.js'
import type {PlannedAction, Step, StepContext} from './step.js'
import type {FirewallOutput} from '../state/step-outputs.js'

export type {FirewallOutput}

/**
 * Firewall rules on the replica, through ARM: one for the source's IP (the how-to asks for it) and,
 * when Azure's gateway refuses this machine, one for the address datain connects from, then a
 * bounded wait until the gateway lets datain in.
 *
 * Safe to re-run: rules are found by address and by name first. A rule that already covers an
 * address is reused and not recorded as datain's; datain's own (`datain-<profile>-source|client`)
 * are recorded before they are created, so a crash after the PUT still knows them. Two runs make
 * one rule per address.
 */
export const firewallStep: Step<'firewall'> = {
  id: 'firewall',
  title: 'Firewall',
  describe: "lets the source and this machine through the replica's firewall, with rules named after the profile",

  async plan(ctx): Promise<PlannedAction[]> {
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
    const {target} = ctx.arm
    actions.push({on: 'azure', kind: 'arm', text: `GET /subscriptions/${target.subscription}/resourceGroups/${target.resourceGroup}/providers/Microsoft.DBforMariaDB/servers/${target.server}/firewallRules?api-version=2018-06-01`})
    const book = await openRuleBook(ctx, ctx.arm)
    actions.push(planRule(ctx, book, 'source', sourceIp))
    if (clientIp) {
      actions.push(planRule(ctx, book, 'client', clientIp))
      actions.push({on: 'replica', kind: 'check', text: `retry connecting until the gateway lets ${clientIp} in (up to 2 min)`})
    }
    return actions
  },

  async run(ctx): Promise<FirewallOutput> {
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
    return {sourceIp, clientIp: clientIp ?? null, createdRules: ownRules(book), createdRanges: book.ranges, reusedRules: book.reused, managed: true}
  },
}

function planRule(ctx: StepContext, book: RuleBook, purpose: 'source' | 'client', ip: string): PlannedAction {
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
async function noteSourceCoverage(ctx: StepContext, sourceIp: string): Promise<void> {
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
