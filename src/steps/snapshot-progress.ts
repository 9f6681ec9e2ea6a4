import {CopyTally} from '../snapshot/progress.js'
import {writeProgress} from '../state/progress.js'
import type {StepContext} from './step.js'

/**
 * How often the copy's progress reaches the profile's progress file (for `datain status` in any
 * shell: the contract asks for every 5 s at most) and `start --json` (a `progress` event).
 */
export const PROGRESS_EVERY_MS = 2000

/**
 * Publishes a copy's progress while it runs: the tally's figures written to the progress file and
 * sent as a `progress` event every PROGRESS_EVERY_MS, once when the copy starts and once when it
 * ends, however it ends. The file is best effort: a write that fails is said once and the copy
 * goes on (the checkpoint, not this file, is what a resume reads).
 */
export class SnapshotProgressReporter {
  readonly tally: CopyTally
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> = Promise.resolve()
  private busy = false
  private failed = false

  constructor(
    private readonly ctx: StepContext<'snapshot'>,
    totals: {tables: number; rows: number},
    private readonly everyMs = PROGRESS_EVERY_MS,
  ) {
    this.tally = new CopyTally()
    this.tally.tablesTotal = totals.tables
    this.tally.rowsTotal = totals.rows
  }

  start(): void {
    this.publish()
    this.timer = setInterval(() => this.publish(), this.everyMs)
    this.timer.unref()
  }

  /** The last figures, complete when `finished`; waits until they are written. */
  async stop(finished: boolean): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    if (finished) this.tally.finish()
    await this.writing
    this.busy = false
    this.publish()
    await this.writing
  }

  private publish(): void {
    const progress = this.tally.progress()
    this.ctx.ui.event?.({event: 'progress', step: 'snapshot', progress})
    // A disk slower than the interval skips a beat rather than queueing writes behind each other.
    if (this.busy || this.failed) return
    this.busy = true
    this.writing = writeProgress(this.ctx.store.dir, progress)
      .catch((error: unknown) => {
        this.failed = true
        this.ctx.ui.info(`The copy's progress could not be written for datain status (${(error as Error)?.message ?? error}); the copy goes on.`)
      })
      .finally(() => {
        this.busy = false
      })
  }
}
