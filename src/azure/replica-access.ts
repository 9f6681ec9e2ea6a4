import {isIP} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'
import {DatainError, ExitCode} from '../lib/errors.js'
import {formatDuration} from '../lib/format.js'
import {connectTo, GatewayRefusedError} from '../lib/mariadb.js'
import {trustedClientIp} from './firewall-addresses.js'
import {addRuleCommand, ensureRule, openRuleBook, ownRules} from './firewall-rule-book.js'
import {type FirewallContext, mergeNames, recordedRanges, recordedRules, type RuleRange} from './firewall-rules.js'

/**
 * How long datain waits for a new rule to let it through Azure's gateway: Azure says a rule can take
 * "as much as a five-minute delay" to apply (concepts-firewall-rules.md).
 */
export const RULE_APPLY_TIMEOUT_MS = 300_000

/** The bound as people read it in plans and messages: `5 min`. */
export function ruleApplyBoundText(timeoutMs: number = RULE_APPLY_TIMEOUT_MS): string {
  return formatDuration(timeoutMs / 1000)
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
 * Retries connecting to the replica until Azure's gateway lets this machine in: a new rule can take
 * up to five minutes to apply. Backs off from 0.5 s to 10 s, gives up after `timeoutMs` (E_REPLICA_FIREWALL,
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
        `The firewall rule ${options.rule} covers ${options.ip}, but after ${ruleApplyBoundText(timeoutMs)} Azure's gateway still refuses this machine` +
          (seen ? `, which it sees as ${refusal.clientIp}: give that address with --client-ip, or leave --client-ip out so that datain learns it.` : '. Azure may need longer to apply a rule;') +
          ` Run 'datain start --profile ${ctx.profile}' again: it goes on from here.`,
        {code: 'E_REPLICA_FIREWALL', exit: ExitCode.unreachable, cause: refusal},
      )
    }
    // A rule can take minutes on Azure: the line says how long so far and how long at most.
    const waited = formatDuration((Date.now() - started) / 1000)
    ctx.ui.status(
      `Waiting for the firewall rule ${options.rule} to let ${options.ip} through Azure's gateway: ${waited} so far, up to ${ruleApplyBoundText(timeoutMs)} (a new rule can take that long on Azure)…`,
    )
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
