import {plural} from '../lib/format.js'
import type {Check, CheckResult, CheckStatus, PreflightContext, PreflightSettings} from './check.js'

/** Why a check of another target's does not concern this one. */
const TARGET_WORDS: Record<PreflightSettings['target'], string> = {
  'azure-mariadb': 'a check for a MariaDB server you administer (--target mariadb)',
  mariadb: 'this is about Azure Database for MariaDB, and the replica is a MariaDB server you administer (--target mariadb)',
}

/**
 * Checks that run at once. They only read, each on the connection the run shares (the connector
 * queues their queries), so that a check waiting on one server or on ARM does not hold up those
 * of the others; bounded, so that a queued query starts well within its deadline.
 */
export const CONCURRENT_CHECKS = 4

/**
 * Runs every check, the report in the checks' order; a check whose connection is missing is
 * reported as not run, with why. A check that throws ends the run with its error (the first in
 * order), and no check starts after it.
 */
export async function runChecks(checks: Check[], ctx: PreflightContext): Promise<CheckResult[]> {
  const run: PreflightContext = {...ctx, shared: new Map()}
  const outcomes: Array<{results: CheckResult[]} | {error: unknown}> = []
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && next < checks.length) {
      const index = next++
      try {
        outcomes[index] = {results: await runCheck(checks[index]!, run)}
      } catch (error) {
        failed = true
        outcomes[index] = {error}
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(CONCURRENT_CHECKS, checks.length)}, worker))
  const results: CheckResult[] = []
  for (const outcome of outcomes) {
    if (outcome === undefined) continue
    if ('error' in outcome) throw outcome.error
    results.push(...outcome.results)
  }
  return results
}

async function runCheck(check: Check, ctx: PreflightContext): Promise<CheckResult[]> {
  if (check.targets && !check.targets.includes(ctx.settings.target)) {
    return [{id: check.id, title: check.title, status: 'not-applicable', message: `Not applicable: ${TARGET_WORDS[ctx.settings.target]}.`}]
  }
  if (check.needs.includes('replica') && !ctx.replica) {
    return [{id: check.id, title: check.title, status: 'not-run', message: `Not run: ${ctx.replicaUnavailable ?? 'the replica is not reachable'}.`}]
  }
  if (check.needs.includes('arm') && !ctx.arm) {
    return [{id: check.id, title: check.title, status: 'not-run', message: 'Not run: --no-arm makes no Azure Resource Manager call.'}]
  }
  const outcome = await check.run(ctx)
  return Array.isArray(outcome) ? outcome : [{id: check.id, title: check.title, ...outcome}]
}

/** Failures first matter to the exit code: any `fail` makes preflight fail. */
export function preflightPassed(results: CheckResult[]): boolean {
  return results.every((r) => r.status !== 'fail')
}

export function countByStatus(results: CheckResult[]): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = {pass: 0, warn: 0, fail: 0, 'not-run': 0, 'not-applicable': 0}
  for (const r of results) counts[r.status]++
  return counts
}

/**
 * `19 passed, 1 warning, 0 failed, 6 not run, 1 not applicable`: the one wording of a preflight's
 * counts, in init's report and in status, so that both count the same checks the same way.
 * `brief` leaves out the outcomes no check had (but passed).
 */
export function describeCounts(counts: Record<CheckStatus, number>, brief = false): string {
  const parts: Array<[number, string]> = [
    [counts.warn, plural(counts.warn, 'warning')],
    [counts.fail, `${counts.fail} failed`],
    [counts['not-run'], `${counts['not-run']} not run`],
  ]
  const shown = [`${counts.pass} passed`, ...parts.filter(([n]) => !brief || n > 0).map(([, text]) => text)]
  if (counts['not-applicable'] > 0) shown.push(`${counts['not-applicable']} not applicable`)
  return shown.join(', ')
}
