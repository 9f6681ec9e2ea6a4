import {DatainError, ExitCode, isDatainError} from '../lib/errors.js'
import {redact} from '../lib/redact.js'
import type {Checkpoint} from '../state/schema.js'
import type {PlannedAction, Step, StepContext, StepId, StepOutput} from '../steps/step.js'

/**
 * The test seams of a setup, in one place and nowhere else in product code: tests narrow the list
 * of steps, or kill datain at a chosen moment to prove that a resume finishes the work.
 */
export interface SetupHooks {
  /** The steps to run; the real list unless a test narrows it. */
  steps?: Step[]
  /**
   * `<step>:start` or `<step>:end`: datain kills itself (SIGKILL, as a power cut would) when that
   * step starts, or has done its work but not yet recorded it. From DATAIN_TEST_CRASH_AT, since the
   * resume tests spawn the CLI.
   */
  crashAt?: string
}

/** The hooks a spawned datain takes from its environment (DATAIN_TEST_CRASH_AT): read here only. */
export function hooksFromEnvironment(env: NodeJS.ProcessEnv = process.env): SetupHooks {
  return env.DATAIN_TEST_CRASH_AT ? {crashAt: env.DATAIN_TEST_CRASH_AT} : {}
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

export interface RunStepsOptions {
  steps: readonly Step[]
  checkpoint: Checkpoint
  /** What every step sees; `previous`, `progress` and `outputs` are the runner's. */
  ctx: Omit<StepContext, 'previous' | 'progress' | 'outputs'>
  /** Plans instead of running, and writes nothing. */
  dryRun: boolean
  hooks?: SetupHooks
}

/**
 * Runs `steps` in order, or plans them under a dry run. A step done in the checkpoint is skipped
 * (its output goes on to the later steps) unless it runs on every start; any other is marked
 * running before it starts and done with its output after, so that a crash at any moment leaves a
 * checkpoint that says where to pick up. A step left running is run again from its start, which
 * each step is written to survive.
 */
export async function runSteps(o: RunStepsOptions): Promise<StepReport[]> {
  const outputs: StepContext['outputs'] = {}
  const reports: StepReport[] = []
  for (const step of o.steps) {
    const record = o.checkpoint.steps[step.id]
    if (record?.state === 'done' && !step.alwaysRun) {
      setOutput(outputs, step.id, record.output)
      reports.push({id: step.id, title: step.title, result: 'skipped', output: record.output})
      o.ctx.ui.event?.({event: 'step-done', step: step.id, title: step.title, result: 'skipped', seconds: null, output: record.output ?? null})
      continue
    }
    const ctx: StepContext = {
      ...o.ctx,
      outputs,
      // Unfinished, or done but run on every start: either way what it recorded before counts.
      previous: record,
      progress: async (output) => {
        if (!o.dryRun) await o.ctx.store.recordProgress(step.id, output)
      },
    }
    if (o.dryRun) {
      reports.push({id: step.id, title: step.title, result: 'planned', plan: await step.plan(ctx)})
      continue
    }
    const report = await runStep(step, ctx, o.hooks ?? {})
    reports.push(report)
    setOutput(outputs, step.id, report.output)
    if (o.ctx.signal.aborted) throw interrupted()
  }
  return reports
}

/** `outputs[id] = output`: one id's output under that id (TypeScript cannot pair them through a union). */
function setOutput(outputs: StepContext['outputs'], id: StepId, output: StepOutput | undefined): void {
  if (output !== undefined) (outputs as Record<StepId, StepOutput>)[id] = output
}

async function runStep(step: Step, ctx: StepContext, hooks: SetupHooks): Promise<StepReport> {
  const started = Date.now()
  // What an unfinished earlier attempt recorded (e.g. databases it created) stays until the step is done.
  await ctx.store.markStep(step.id, {state: 'running', output: ctx.previous?.output})
  await ctx.store.journal('step-start', {step: step.id, resumed: ctx.previous !== undefined})
  ctx.ui.info(`▶ ${step.title}: ${step.describe}`)
  ctx.ui.event?.({event: 'step-started', step: step.id, title: step.title, resumed: ctx.previous !== undefined})
  try {
    crashPoint(hooks, step.id, 'start')
    const output = await step.run(ctx)
    if (ctx.signal.aborted) throw interrupted()
    // The worst moment to die: the work is done, the checkpoint does not know it yet.
    crashPoint(hooks, step.id, 'end')
    await ctx.store.markStep(step.id, {state: 'done', output})
    const seconds = (Date.now() - started) / 1000
    await ctx.store.journal('step-done', {step: step.id, seconds, output})
    ctx.ui.event?.({event: 'step-done', step: step.id, title: step.title, result: 'done', seconds, output})
    return {id: step.id, title: step.title, result: 'done', seconds, output}
  } catch (error) {
    const wasAborted = ctx.signal.aborted
    const known = wasAborted ? interrupted() : isDatainError(error) ? error : undefined
    const progress = (await ctx.store.readCheckpoint()).steps[step.id]?.output
    const failure = {code: known?.code ?? 'E_INTERNAL', message: redact(known?.message ?? String((error as Error)?.message ?? error))}
    await ctx.store.markStep(step.id, {state: wasAborted ? 'interrupted' : 'failed', output: progress, error: failure})
    await ctx.store.journal(wasAborted ? 'step-interrupted' : 'step-failed', {step: step.id, code: failure.code})
    ctx.ui.event?.({event: 'step-failed', step: step.id, title: step.title, ...failure})
    throw known ?? error
  }
}

function crashPoint(hooks: SetupHooks, step: StepId, point: 'start' | 'end'): void {
  if (hooks.crashAt === `${step}:${point}`) process.kill(process.pid, 'SIGKILL')
}

export function interrupted(): DatainError {
  return new DatainError("datain was interrupted; the checkpoint records where it stopped. Run 'datain start' again to go on.", {
    code: 'E_INTERRUPTED',
    exit: ExitCode.failed,
  })
}
