import {existingReplicationPassword, replicationPassword} from '../state/passwords.js'
import {NO_RUN_OPTIONS, type RunOptions} from '../state/run-options.js'
import type {StepUi} from '../steps/step.js'
import {SETUP_STEPS} from '../steps/index.js'
import {openSession} from '../engine/session.js'
import {openSetupCheckpoint} from '../engine/setup-checkpoint.js'
import {hooksFromEnvironment, runSteps, type SetupHooks, type StepReport} from '../engine/runner.js'

export type {StepReport} from '../engine/runner.js'

export interface SetupOptions {
  home: string
  profile: string
  dryRun: boolean
  /** `--parallel N`: threads of the snapshot's copy (StepContext.parallel). */
  parallel?: number
  /** `--replace-databases`, `--take-over-replica`: this run only, never saved. */
  run?: RunOptions
  ui: StepUi
  /** Aborted on Ctrl-C / SIGTERM. */
  signal: AbortSignal
  /** Test seams; by default those of the environment (DATAIN_TEST_CRASH_AT). */
  hooks?: SetupHooks
}

export interface SetupResult {
  profile: string
  dryRun: boolean
  steps: StepReport[]
}

/**
 * `datain start`: opens the profile and its checkpoint (refused when the servers changed or the link
 * was removed), and runs the setup steps in order, or resumes after the last one done.
 */
export async function runSetup(options: SetupOptions): Promise<SetupResult> {
  const session = await openSession({
    home: options.home,
    profile: options.profile,
    lockFor: options.dryRun ? 'start --dry-run' : 'start',
    note: (m) => (options.ui.warn ? options.ui.warn(m) : options.ui.info(m)),
  })
  const {store} = session
  try {
    const checkpoint = await openSetupCheckpoint(session, {command: 'start', dryRun: options.dryRun})
    const run = options.run ?? NO_RUN_OPTIONS
    // Never in the settings, but in the journal: who dropped a database or took over a link, and when.
    if (!options.dryRun && (run.replaceDatabases || run.takeOverReplica)) await store.journal('run-options', {...run})

    const hooks = options.hooks ?? hooksFromEnvironment()
    const steps = await runSteps({
      steps: hooks.steps ?? SETUP_STEPS,
      checkpoint,
      dryRun: options.dryRun,
      hooks,
      ctx: {
        ...session,
        run,
        replicationPassword: async () => {
          if (!options.dryRun) return (await replicationPassword(store)).password
          // A dry run writes nothing: the password shows as *** whatever it will be.
          return (await existingReplicationPassword(store))?.password ?? '***'
        },
        signal: options.signal,
        ui: options.ui,
        parallel: options.parallel,
      },
    })
    if (!options.dryRun) await store.journal('setup-complete', {steps: steps.map((r) => `${r.id}:${r.result}`)})
    return {profile: options.profile, dryRun: options.dryRun, steps}
  } finally {
    await session.close()
  }
}
