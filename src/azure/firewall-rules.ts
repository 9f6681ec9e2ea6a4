import type {FirewallRule} from '@azure/arm-mariadb'
import {createHash} from 'node:crypto'
import type {MariaDBManagementClient} from '@azure/arm-mariadb'
import type {Connection} from 'mariadb'
import type {Settings, StepRecord} from '../state/schema.js'
import type {AzureTarget} from './arm.js'
import type {ServerAddress} from '../lib/mariadb.js'

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
export function sameName(a: string | undefined, b: string | undefined): boolean {
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

/** `a` then the names of `b` not in it (without regard to case), keeping the spelling first seen. */
export function mergeNames(a: readonly string[], b: readonly string[]): string[] {
  const out = [...a]
  for (const name of b) if (!out.some((n) => sameName(n, name))) out.push(name)
  return out
}
