import {DatainError, ExitCode} from '../lib/errors.js'
import {ownWork} from '../preflight/own-work.js'
import type {CheckResult, PreflightContext} from '../preflight/check.js'
import {userDatabases} from '../preflight/context.js'
import {PREFLIGHT_CHECKS} from '../preflight/index.js'
import {preflightPassed, runChecks} from '../preflight/run.js'
import {preflightSettings} from '../preflight/settings.js'
import type {Step, StepContext} from './step.js'

/** Step 1: the checks of `datain init`, run again, because servers change between init and start. */
export const preflightStep: Step<'preflight'> = {
  id: 'preflight',
  title: 'Preflight',
  describe: 'checks both servers (and Azure) again, as init did',
  alwaysRun: true,

  async plan() {
    return [{on: 'local', kind: 'check', text: `run the ${PREFLIGHT_CHECKS.length} preflight checks of 'datain init' (read only)`}]
  },

  async run(ctx) {
    // The replica's checks need the replica now, before the firewall step: let datain in first.
    const access = await ctx.target.network.letClientIn(ctx)
    const checks = await runChecks(PREFLIGHT_CHECKS, await preflightContext(ctx))
    const failed = checks.filter((c) => c.status === 'fail')
    const warned = checks.filter((c) => c.status === 'warn')
    for (const check of warned) {
      const line = `  warning: ${check.title}: ${check.message}`
      if (ctx.ui.warn) ctx.ui.warn(line)
      else ctx.ui.info(line)
    }
    if (!preflightPassed(checks)) {
      throw new DatainError(
        `${failed.length} preflight check${failed.length === 1 ? '' : 's'} failed, so datain changed nothing:\n` +
          failed.map((c) => `  - ${c.title}: ${c.message}${c.fix ? `\n    fix: ${c.fix}` : ''}`).join('\n') +
          `\nFix ${failed.length === 1 ? 'it' : 'them'} and run 'datain start' again ('datain init --profile ${ctx.profile}' shows the whole report).`,
        {code: 'E_PREFLIGHT', exit: ExitCode.failed},
      )
    }
    return {passed: checks.length - warned.length, warnings: warned.map((c: CheckResult) => c.id), createdRules: access.createdRules, createdRanges: access.createdRanges}
  },
}

async function preflightContext(ctx: StepContext): Promise<PreflightContext> {
  const source = await ctx.source()
  const replica = await ctx.replica()
  const arm = await ctx.target.armServer()
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
