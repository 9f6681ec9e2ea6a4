import type {SnapshotProgress} from '../state/progress.js'
import type {StepId, StepOutput} from './step.js'

/**
 * What `datain start --json` streams, one JSON object per line (README, "datain start --json"),
 * each with `event` and `at` (added where it is written). Persisted by scripts: never rename a
 * kind or a field.
 *
 * - `step-started`: a step begins (`resumed`: an earlier run left it unfinished)
 * - `step-done`: a step ended well, or was skipped (`result: 'skipped'`, no `step-started`): done by an earlier run
 * - `step-failed`: a step failed, or was interrupted (`code` E_INTERRUPTED); the error object follows last
 * - `progress`: the snapshot's copy, the object `status --json` shows, every 2 s
 * - `warning`: a check that warned, a setting that weakens TLS
 */
export type SetupEvent =
  | {event: 'step-started'; step: StepId; title: string; resumed: boolean}
  | {event: 'step-done'; step: StepId; title: string; result: 'done' | 'skipped'; seconds: number | null; output: StepOutput | null}
  | {event: 'step-failed'; step: StepId; title: string; code: string; message: string}
  | {event: 'progress'; step: 'snapshot'; progress: SnapshotProgress}
  | {event: 'warning'; step: StepId | null; message: string}

export type SetupEventKind = SetupEvent['event']
