import {hintControls} from '../replication/hints.js'
import {setTimeout as sleep} from 'node:timers/promises'
import {openSession, type Session} from '../engine/session.js'
import {setupMode} from '../engine/setup-checkpoint.js'
import type {SetupHooks} from '../engine/runner.js'
import {removedRecord} from '../state/stop-records.js'
import type {Checkpoint} from '../state/schema.js'
import {registerSecret} from '../lib/redact.js'
import {SETUP_STEPS} from '../steps/index.js'
import {readLockHolder} from './lock-holder.js'
import {type LiveSample, takeSample} from './live.js'
import {replicationView, type ReplicationView} from './replica-health.js'
import {STATE_EXIT_CODES, type StatusReport, type StepStatus} from './status-report.js'
import {setupProgress, stepStatuses} from './setup-progress.js'
import {withSnapshotProgress} from './snapshot-progress.js'
import {judge} from './verdict.js'

export interface StatusOptions {
  home: string
  profile: string
  /** Seconds behind beyond which a replica counts as lagging (exit 5). */
  maxLag: number
  note(message: string): void
  /** Test seams: the setup steps, the real list unless a test narrows it. */
  hooks?: Pick<SetupHooks, 'steps'>
}

/**
 * Looks at a profile, once or again and again (--watch): its checkpoint and lock, and live, the
 * replica and the source. Takes no lock: it runs beside a running `datain start`. The apply rate
 * compares each look with the one before.
 */
export class StatusMonitor {
  #previous: LiveSample | undefined
  /** Why the progress file was last ignored: said once, not on every refresh of --watch. */
  #progressIgnored: string | undefined

  private constructor(
    private readonly session: Session,
    private readonly options: StatusOptions,
  ) {}

  /** Reads the profile's settings and the passwords (environment or prompt); connects on first use. */
  static async open(options: StatusOptions): Promise<StatusMonitor> {
    const session = await openSession({home: options.home, profile: options.profile, lockFor: undefined, note: options.note})
    // Status never reads it, but should a server ever echo it, it is masked like the others.
    registerSecret(process.env.DATAIN_REPLICATION_PASSWORD)
    try {
      registerSecret((await session.store.readSecrets())?.replicationPassword)
    } catch (error) {
      await session.close()
      throw error
    }
    return new StatusMonitor(session, options)
  }

  /**
   * One report. `sampleMs`: with no earlier look to compare with, look twice this far apart to
   * measure the apply rate (one-shot status); without it, the first report has no rate (--watch).
   */
  async check(options: {sampleMs?: number} = {}): Promise<StatusReport> {
    const {session} = this
    const steps = this.options.hooks?.steps ?? SETUP_STEPS
    const checkpoint = await session.store.readCheckpoint()
    const holder = await readLockHolder(session.store.dir)
    const statuses = await this.withProgress(stepStatuses(steps, checkpoint, holder, new Date()), checkpoint)
    const setup = setupProgress(statuses, holder)
    const link = checkpoint.steps.link
    const mode = setupMode(checkpoint, session.settings)
    const hint = {controls: hintControls(session.target.replication.planned(link?.output?.procedureSchema)), profile: session.profile}

    let view: ReplicationView | undefined
    if (setup.kind !== 'not-started') {
      let sample = await takeSample(session)
      let previous = this.#previous
      if (!previous && options.sampleMs && sample.replica.ok && sample.replica.value.status) {
        await sleep(options.sampleMs)
        previous = sample
        sample = await takeSample(session)
      }
      this.#previous = sample
      const {settings} = session
      view = replicationView(sample, previous, {
        mode,
        source: {host: settings.source.host, port: settings.source.port, publicHost: settings.source.publicHost, replicationUser: settings.replicationUser},
        replica: {host: settings.replica.host, port: settings.replica.port},
        hint,
      })
    }

    const verdict = judge({
      profile: session.profile,
      setup,
      linked: link?.state === 'done',
      view,
      maxLag: this.options.maxLag,
      steps,
      hint,
      ...stopRecords(checkpoint),
    })
    return {
      profile: session.profile,
      state: verdict.state,
      exitCode: STATE_EXIT_CODES[verdict.state],
      summary: verdict.summary,
      next: verdict.next,
      maxLag: this.options.maxLag,
      steps: statuses,
      replication: view?.report ?? null,
      applyRate: view?.applyRate ?? null,
      eta: view?.eta ?? null,
      checkedAt: new Date().toISOString(),
    }
  }

  /** The snapshot step with its copy's progress (see withSnapshotProgress); a damaged file is noted, not fatal. */
  private async withProgress(statuses: StepStatus[], checkpoint: Checkpoint): Promise<StepStatus[]> {
    return Promise.all(
      statuses.map(async (status) => {
        const {status: shown, ignored} = await withSnapshotProgress(status, checkpoint.steps.snapshot, this.session.store.dir)
        if (ignored !== undefined && ignored !== this.#progressIgnored) this.options.note(`The copy's progress is not shown: ${ignored}.`)
        this.#progressIgnored = ignored ?? this.#progressIgnored
        return shown
      }),
    )
  }

  async close(): Promise<void> {
    await this.session.close()
  }
}

/**
 * What `datain stop` recorded in the checkpoint, in its section of its own (ids persisted, never
 * renamed): `removed` once it removed the link, and the replicate step marked E_STOPPED once it
 * stopped replication.
 */
function stopRecords(checkpoint: Checkpoint): {removed?: {at: string; via: string; linked: boolean}; stoppedByDatain?: string} {
  const removed = removedRecord(checkpoint)?.output
  const replicate = checkpoint.steps.replicate
  return {
    removed: removed ? {at: removed.removedAt, via: removed.via, linked: removed.linked} : undefined,
    stoppedByDatain: replicate?.state !== 'done' && replicate?.error?.code === 'E_STOPPED' ? replicate.error.message : undefined,
  }
}
