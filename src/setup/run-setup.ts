import {DatainError, ExitCode, isDatainError} from '../lib/errors.js'
import {redact} from '../lib/redact.js'
import {existingReplicationPassword, replicationPassword} from '../state/passwords.js'
import {NO_RUN_OPTIONS, type RunOptions} from '../state/run-options.js'
import {type PlannedAction, type Step, type StepContext, type StepId, type StepOutput, type StepUi} from '../steps/step.js'
import {SETUP_STEPS} from '../steps/index.js'
import {assertLinkNotRemoved} from '../state/stop-records.js'
import {setupFingerprint} from '../state/fingerprint.js'
import type {ProfileStore} from '../state/profile-store.js'
import {openSession} from '../engine/session.js'
import type {Checkpoint} from '../state/schema.js'

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
  /** The steps to run; the real list unless a test narrows it. */
  steps?: Step[]
}

export interface StepReport {
  id: StepId
  title: string
  /** `done` ran now; `skipped` was done before; `planned` under --dry-run. */
  result: 'done' | 'skipped' | 'planned'
  seconds?: number
  output?: StepOutput
  plan?: PlannedAction[]
}

export interface SetupResult {
  profile: string
  dryRun: boolean
  steps: StepReport[]
}

/**
 * `datain start`: runs the setup steps in order, or resumes after the last one done. A step is
 * marked running before it starts and done with its output after, so that a crash at any moment
 * leaves a checkpoint that says where to pick up; a step left running is run again from its start,
 * which each step is written to survive.
 */
export async function runSetup(options: SetupOptions): Promise<SetupResult> {
  const session = await openSession({
    home: options.home,
    profile: options.profile,
    lockFor: options.dryRun ? 'start --dry-run' : 'start',
    note: (m) => options.ui.info(m),
  })
  const {store, settings} = session
  try {
    const checkpoint = await checkpointFor(store, setupFingerprint(settings), options)
    const ctx: StepContext = {
      ...session,
      run: options.run ?? NO_RUN_OPTIONS,
      outputs: {},
      progress: async () => {},
      replicationPassword: async () => {
        if (!options.dryRun) return (await replicationPassword(store)).password
        // A dry run writes nothing: the password shows as *** whatever it will be.
        return (await existingReplicationPassword(store))?.password ?? '***'
      },
      signal: options.signal,
      ui: options.ui,
      parallel: options.parallel,
    }

    const run = ctx.run
    // Never in the settings, but in the journal: who dropped a database or took over a link, and when.
    if (!options.dryRun && (run.replaceDatabases || run.takeOverReplica)) await store.journal('run-options', {...run})

    const reports: StepReport[] = []
    for (const step of options.steps ?? SETUP_STEPS) {
      const record = checkpoint.steps[step.id]
      const done = record?.state === 'done'
      if (done && !step.alwaysRun) {
        ctx.outputs[step.id] = record.output ?? {}
        reports.push({id: step.id, title: step.title, result: 'skipped', output: record.output})
        continue
      }
      const stepCtx: StepContext = {
        ...ctx,
        // Unfinished, or done but run on every start: either way what it recorded before counts.
        previous: record,
        progress: async (output) => {
          if (!options.dryRun) await store.recordProgress(step.id, output)
        },
      }
      if (options.dryRun) {
        reports.push({id: step.id, title: step.title, result: 'planned', plan: await step.plan(stepCtx)})
        continue
      }
      reports.push(await runStep(step, stepCtx, record?.output))
      ctx.outputs[step.id] = reports.at(-1)!.output ?? {}
      if (options.signal.aborted) throw interrupted()
    }
    if (!options.dryRun) await store.journal('setup-complete', {steps: reports.map((r) => `${r.id}:${r.result}`)})
    return {profile: options.profile, dryRun: options.dryRun, steps: reports}
  } finally {
    await session.close()
  }
}

async function runStep(step: Step, ctx: StepContext, carried: StepOutput | undefined): Promise<StepReport> {
  const started = Date.now()
  // What an unfinished earlier attempt recorded (e.g. databases it created) stays until the step is done.
  await ctx.store.markStep(step.id, {state: 'running', output: carried})
  await ctx.store.journal('step-start', {step: step.id, resumed: ctx.previous !== undefined})
  ctx.ui.info(`▶ ${step.title}: ${step.describe}`)
  try {
    crashPoint(step.id, 'start')
    const output = await step.run(ctx)
    if (ctx.signal.aborted) throw interrupted()
    // The worst moment to die: the work is done, the checkpoint does not know it yet.
    crashPoint(step.id, 'end')
    await ctx.store.markStep(step.id, {state: 'done', output})
    const seconds = (Date.now() - started) / 1000
    await ctx.store.journal('step-done', {step: step.id, seconds, output})
    return {id: step.id, title: step.title, result: 'done', seconds, output}
  } catch (error) {
    const wasAborted = ctx.signal.aborted
    const known = wasAborted ? interrupted() : isDatainError(error) ? error : undefined
    const progress = (await ctx.store.readCheckpoint()).steps[step.id]?.output
    await ctx.store.markStep(step.id, {
      state: wasAborted ? 'interrupted' : 'failed',
      output: progress,
      error: {code: known?.code ?? 'E_INTERNAL', message: redact(known?.message ?? String((error as Error)?.message ?? error))},
    })
    await ctx.store.journal(wasAborted ? 'step-interrupted' : 'step-failed', {step: step.id, code: known?.code ?? 'E_INTERNAL'})
    throw known ?? error
  }
}

/** The checkpoint for these servers: a new one on the first start, refused if the servers changed. */
async function checkpointFor(store: ProfileStore, fingerprint: string, options: SetupOptions): Promise<Checkpoint> {
  const checkpoint = await store.readCheckpoint()
  if (checkpoint.fingerprint && checkpoint.fingerprint !== fingerprint) {
    throw new DatainError(
      `The profile '${options.profile}' was changed (servers, databases or mode) after its setup began, so its checkpoint ` +
        `does not describe these servers. Put the settings back with 'datain init --force' and the old values, or finish with the old setup ` +
        `('datain stop --remove --cleanup') before starting a new one, or use another --profile.`,
      {code: 'E_PROFILE_CHANGED', exit: ExitCode.usage},
    )
  }
  // After 'datain stop --remove' or '--cutover' the setup is finished: never link again from the old snapshot.
  assertLinkNotRemoved(checkpoint, options.profile)
  if (checkpoint.fingerprint || options.dryRun) return checkpoint
  return store.resetCheckpoint(fingerprint)
}

/**
 * Fault injection for the resume tests: `DATAIN_TEST_CRASH_AT=snapshot:end` kills datain (SIGKILL,
 * as a power cut would) when that step starts or has done its work but not yet recorded it.
 */
function crashPoint(step: StepId, point: 'start' | 'end'): void {
  if (process.env.DATAIN_TEST_CRASH_AT === `${step}:${point}`) process.kill(process.pid, 'SIGKILL')
}

export function interrupted(): DatainError {
  return new DatainError("datain was interrupted; the checkpoint records where it stopped. Run 'datain start' again to go on.", {
    code: 'E_INTERRUPTED',
    exit: ExitCode.failed,
  })
}
