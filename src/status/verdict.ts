import {brokenError} from '../replication/catch-up.js'
import type {HintContext} from '../replication/hints.js'
import type {ReplicationView} from './replica-health.js'
import type {OverallState} from './status-report.js'
import type {SetupProgress} from './setup-progress.js'
import {formatBytes, formatDuration, plural} from '../lib/format.js'

export interface Verdict {
  state: OverallState
  summary: string
  next: string | null
}

export interface VerdictInput {
  profile: string
  setup: SetupProgress
  /** Whether the link step is done: from then on, the replica's live state decides. */
  linked: boolean
  /** Undefined when the servers were not read (before the setup started). */
  view: ReplicationView | undefined
  maxLag: number
  /** The setup steps in order, for "step 5/7". */
  steps: ReadonlyArray<{id: string}>
  hint: HintContext
  /** `datain stop --remove` (or `--cutover`) recorded that it removed the link: replication ended on purpose. */
  removed?: {at: string; via: string; linked: boolean}
  /** `datain stop` recorded that it stopped replication: its message. */
  stoppedByDatain?: string
}

/**
 * The overall state, in order of precedence:
 *
 * 1. Nothing ran yet: `not-started`, exit 1. A monitoring system that watches a profile nobody has
 *    set up must not read "healthy" (0) while nothing replicates; it is neither bad usage (2: the
 *    command and the profile are right) nor broken replication (3: there is none to break). The
 *    setup's first step simply has not run: exit 1, "a step not finished", with `datain start` next.
 * 2. Before the link step is done, the setup decides (exit 1): the replica may rightly refuse this
 *    machine (its firewall rule comes in a later step) or have no source yet.
 * 3. Once linked, the replica's live state: unreachable (4), then no source or another one (3), a
 *    thread stopped or failing with an error (3), both threads stopped without one (3).
 * 4. A setup that has not finished (the last step not done), even while replication runs: exit 1.
 * 5. Behind the source by position, and more than --max-lag seconds by the estimate, or by an unknown
 *    time (nothing applied while behind): `lagging`, exit 5. Otherwise `healthy`, exit 0.
 *
 * The source being unreachable from here is never an exit code of its own: the replica's side decides,
 * with the lag then judged by Seconds_Behind_Master alone.
 */
export function judge(input: VerdictInput): Verdict {
  const p = input.profile === 'default' ? '' : ` --profile ${input.profile}`
  const start = `datain start${p}`
  const {setup, view} = input

  if (input.removed) return removedVerdict(input.removed)
  if (setup.kind === 'not-started') {
    return {state: 'not-started', summary: `Setup not started: profile '${input.profile}' is recorded, but no step has run. Run ${start}.`, next: start}
  }
  if (!input.linked || !view) return setupVerdict(input, start, p)
  const replica = replicaVerdict(input, view, start)
  if (replica) return replica
  if (setup.kind !== 'complete') return setupVerdict(input, start, p)
  return lagVerdict(input, view, p)
}

/** The end of the road, not a fault: after a cutover the replica is the application's database. */
function removedVerdict({at, via, linked}: NonNullable<VerdictInput['removed']>): Verdict {
  // A monitor left in place must not page anyone about replication nobody wants any more.
  const what = !linked
    ? `the setup was ended with datain stop before it linked the replica (${at})`
    : via === 'cutover'
      ? `datain stop --cutover moved over to the replica and removed the replication link at ${at}`
      : `datain stop --remove removed the replication link at ${at}`
  return {state: 'removed', summary: `Replication has ended: ${what}. The replica stands alone; nothing replicates, on purpose.`, next: null}
}

/** Once linked, what the replica says about itself: unreachable, unlinked, broken or stopped; undefined when both threads run. */
function replicaVerdict(input: VerdictInput, view: ReplicationView, start: string): Verdict | undefined {
  const r = view.report
  if (!r.reachable) {
    const error = r.error!
    return {
      state: 'replica-unreachable',
      summary: `The replica does not answer, so datain cannot tell how replication is doing: ${error.message}`,
      // The preflight of every start adds datain's own firewall rule back.
      next: error.code === 'E_REPLICA_FIREWALL' ? start : null,
    }
  }
  if (!view.status) {
    return {
      state: 'unlinked',
      summary:
        'The replica has no replication source (SHOW SLAVE STATUS is empty, or shows a removed link): the link was removed (datain stop --remove, or by hand) ' +
        'after the setup made it. It no longer replicates anything.',
      next: null,
    }
  }
  if (!view.linkedHere) {
    return {
      state: 'unlinked',
      summary:
        `The replica replicates from ${view.status.masterHost}:${view.status.masterPort} as '${view.status.masterUser}', not from this profile's source: ` +
        'its link was changed after datain made it.',
      next: null,
    }
  }
  if (view.failure) {
    const error = brokenError(view.failure, view.status, input.hint)
    return {state: 'broken', summary: error.message + sourceUnreachableNote(view, false), next: error.suggestions?.[0] ?? start}
  }
  return threadsVerdict(input, view.status, start)
}

/** Both threads stopped (stopped), or one of them without an error (broken); undefined when both run. */
function threadsVerdict(input: VerdictInput, status: NonNullable<ReplicationView['status']>, start: string): Verdict | undefined {
  if (status.ioThread === 'stopped' && !status.sqlRunning) {
    return {
      state: 'stopped',
      summary: input.stoppedByDatain
        ? `${input.stoppedByDatain} Both replica threads are off.`
        : `Replication is stopped: both replica threads are off, with no error (${input.hint.controls?.stop ?? 'datain stop'}, datain stop, ` +
          `or a restart of the replica). Run ${start} to start it again.`,
      next: start,
    }
  }
  if (status.ioThread === 'stopped' || !status.sqlRunning) {
    const which = status.sqlRunning ? 'IO thread (which reads the source’s binary log)' : 'SQL thread (which applies the changes)'
    return {state: 'broken', summary: `Replication is broken: the replica's ${which} is stopped, with no error recorded. Run ${start} to start it again.`, next: start}
  }
  return undefined
}

/** Replicating, with the setup complete: lagging beyond --max-lag (5) or healthy (0). */
function lagVerdict(input: VerdictInput, view: ReplicationView, p: string): Verdict {
  const lag = describeLag(view)
  const seconds = view.report.lag.seconds
  const notes = reconnectingNote(view) + sourceUnreachableNote(view, true)
  if (view.behind === true && (seconds === null || seconds > input.maxLag)) {
    const why = seconds === null ? 'and it applied nothing while datain looked, so the time cannot be estimated' : `≈ ${formatDuration(seconds)} behind`
    return {
      state: 'lagging',
      summary: `Replication runs but lags: ${lag}, ${why}, beyond --max-lag ${input.maxLag} s.${notes}`,
      next: `datain status${p} --watch`,
    }
  }
  if (view.behind === null && seconds !== null && seconds > input.maxLag) {
    return {
      state: 'lagging',
      summary: `Replication runs but lags: Seconds_Behind_Master is ${seconds}, beyond --max-lag ${input.maxLag} s.${notes}`,
      next: `datain status${p} --watch`,
    }
  }
  const within = view.behind ? `${seconds !== null ? `, ≈ ${formatDuration(seconds)}` : ''}, within --max-lag ${input.maxLag} s` : ''
  return {state: 'healthy', summary: `Replicating: ${lag}${within}.${notes}`, next: null}
}

function setupVerdict(input: VerdictInput, start: string, p: string): Verdict {
  const {setup} = input
  const nth = (id: string) => `step ${input.steps.findIndex((s) => s.id === id) + 1}/${input.steps.length}`
  if (setup.kind === 'in-progress') {
    const doing = setup.step ? `is at ${nth(setup.step.id)}, ${setup.step.title}` : 'is starting'
    return {
      state: 'setup-in-progress',
      summary: `Setup in progress: datain ${setup.holder.command} (pid ${setup.holder.pid}) ${doing}.`,
      next: `datain status${p} --watch`,
    }
  }
  if (setup.kind === 'incomplete') {
    const {step} = setup
    const what =
      step.state === 'failed'
        ? `failed${step.error ? ` (${step.error.code}): ${step.error.message}` : ''}`
        : step.state === 'interrupted'
          ? `was interrupted${step.error ? `: ${step.error.message}` : ''}`
          : 'has not run yet'
    return {
      state: 'setup-incomplete',
      summary: `Setup not finished: ${nth(step.id)}, ${step.title}, ${what}\nRun ${start} to go on from there; the steps already done are not repeated.`,
      next: start,
    }
  }
  // Complete, but linked without a live view cannot happen; say what is known.
  return {state: 'setup-incomplete', summary: `Setup not finished. Run ${start}.`, next: start}
}

/** "caught up", "12 transactions behind (3.4 kB of binlog)", "lag unknown (the source does not answer)". */
export function describeLag(view: ReplicationView): string {
  const {lag} = view.report
  if (view.behind === false) return 'caught up'
  if (view.behind === null) {
    const sbm = view.report.secondsBehind
    return `lag unknown without the source (Seconds_Behind_Master ${sbm === null ? 'NULL' : sbm})`
  }
  const parts: string[] = []
  if (lag.transactions !== null) parts.push(`${plural(lag.transactions, 'transaction')} behind`)
  const distance = lag.bytes !== null && lag.bytes > 0 ? `${formatBytes(lag.bytes)} of binlog` : lag.files ? `${plural(lag.files, 'binlog file')}` : undefined
  if (distance) parts.push(parts.length > 0 ? `(${distance})` : `${distance} behind`)
  return parts.length > 0 ? parts.join(' ') : 'behind'
}

/** An IO thread that reconnects after the source restarted (see reconnectingAfterRestart): said, with when it tries again. */
function reconnectingNote(view: ReplicationView): string {
  const {reconnecting} = view
  if (!reconnecting) return ''
  const {errno, sourceUptime, connectRetry} = reconnecting
  return (
    `\nThe replica's IO thread is reconnecting: its last try failed (error ${errno}) while the source restarted, ` +
    `which has been up again for ${formatDuration(sourceUptime)}; the replica tries again every ${connectRetry} s (Connect_Retry) on its own. ` +
    'If it still fails after that, replication is broken.'
  )
}

/** Said, never fatal: the replica's side still decides. `judged`: the lag was judged without the source. */
function sourceUnreachableNote(view: ReplicationView, judged: boolean): string {
  const {source} = view.report
  if (source.reachable && !source.error) return ''
  const why = source.error ? `: ${source.error.message.replace(/\.$/, '')}` : ''
  const what = source.reachable ? `\nThe source's position could not be read${why}` : `\nThe source does not answer datain${judged ? '' : ' either'}${why}`
  return what + (judged ? '. The lag is judged by Seconds_Behind_Master alone.' : '.')
}
