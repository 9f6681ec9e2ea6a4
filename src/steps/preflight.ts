import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../lib/errors.js'
import {ownWork} from '../preflight/own-work.js'
import type {CheckResult, PreflightContext} from '../preflight/check.js'
import {userDatabases} from '../preflight/context.js'
import {PREFLIGHT_CHECKS} from '../preflight/index.js'
import {countByStatus, preflightPassed, runChecks} from '../preflight/run.js'
import {preflightSettings} from '../preflight/settings.js'
import type {Step, StepContext} from './step.js'

/** Step 1: the checks of `datain init`, run again, because servers change between init and start. */
export const preflightStep: Step<'preflight'> = {
  id: 'preflight',
  title: 'Preflight',
  describe: 'checks both servers (and Azure) again, as init did',
  alwaysRun: true,

  async plan() {
    return [{on: 'local', kind: 'check', text: "run the preflight checks of 'datain init' again (read only)"}]
  },

  async run(ctx) {
    // The source's connection opens (TLS, login) while the replica's firewall is looked at: it needs neither.
    const source = ctx.source()
    source.catch(() => {})
    // The replica's checks need the replica now, before the firewall step: let datain in first.
    const access = await ctx.target.network.letClientIn(ctx)
    const checks = await runChecks(PREFLIGHT_CHECKS, await preflightContext(ctx, source))
    const failed = checks.filter((c) => c.status === 'fail')
    const warned = checks.filter((c) => c.status === 'warn')
    // People get the report (passes counted unless --verbose); start --json a warning event each.
    if (ctx.ui.checks) ctx.ui.checks(checks)
    else {
      for (const check of warned) {
        const line = `  warning: ${check.title}: ${check.message}`
        if (ctx.ui.warn) ctx.ui.warn(line)
        else ctx.ui.info(line)
      }
    }
    const counts = countByStatus(checks)
    if (!preflightPassed(checks)) {
      throw new DatainError(
        `${failed.length} preflight check${failed.length === 1 ? '' : 's'} failed, so datain changed nothing:\n` +
          failed.map((c) => `  - ${c.title}: ${c.message}${c.fix ? `\n    fix: ${c.fix}` : ''}`).join('\n') +
          `\nFix ${failed.length === 1 ? 'it' : 'them'} and run 'datain start' again ('datain init --profile ${ctx.profile}' shows the whole report).`,
        {code: 'E_PREFLIGHT', exit: ExitCode.failed},
      )
    }
    // Passed means passed: not the checks that did not apply to this target, nor those not run.
    return {passed: counts.pass, counts, warnings: warned.map((c: CheckResult) => c.id), createdRules: access.createdRules, createdRanges: access.createdRanges}
  },
}

async function preflightContext(ctx: StepContext, opening: Promise<Connection>): Promise<PreflightContext> {
  // All three at once; a failure reported in the order they were asked for before (source, replica, ARM).
  const [replicaOpening, armReading] = [ctx.replica(), ctx.target.armServer()]
  replicaOpening.catch(() => {})
  armReading.catch(() => {})
  const source = await opening
  const replica = await replicaOpening
  const arm = await armReading
  const settings = preflightSettings(ctx.settings, ctx.run)
  return {
    settings,
    source,
    replica,
    arm,
    own: ownWork(await ctx.store.readCheckpoint()),
    databases: settings.databases.length > 0 ? settings.databases : await userDatabases(source),
  }
}
