import {hintControls} from '../replication/hints.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {DEFAULT_CATCH_UP_TIMEOUT_MS, waitUntilCaughtUp} from '../replication/catch-up.js'
import {mergeChange} from '../replication/parameter-changes.js'
import {describeLag, linkedTo, type ReplicationMode, readReplicaStatus} from '../replication/slave-status.js'
import type {ReplicationControls} from '../targets/target.js'
import type {ParameterChange} from '../state/parameter-change.js'
import type {PlannedAction, Step, StepContext} from './step.js'
import type {ReplicateOutput} from '../state/step-outputs.js'

export type {ReplicateOutput}

export interface ReplicateOptions {
  /** How long to wait for the catch-up before giving up with exit 5 (replication goes on). Default 30 min. */
  timeoutMs?: number
  /** Time between two looks at the replica while waiting. Default 1 s. */
  pollMs?: number
  /** How long the IO thread may retry a failing connection before replication counts as broken. Default 30 s. */
  ioErrorGraceMs?: number
}

/** Azure asks for both in file/position mode, so that the replica's position survives its own crash. */
const SYNC_PARAMETERS = ['sync_master_info', 'sync_relay_log_info'] as const

/**
 * Starts replication with Azure's `az_replication_start` and waits until both threads run and the
 * replica has applied everything the source had written when the wait began, showing the lag; a
 * thread that stops is E_REPLICATION_BROKEN (exit 3) with the replica's own error text and a hint.
 *
 * Safe to re-run: replication already running is not started again, only waited for. In
 * file/position mode, `sync_master_info` and `sync_relay_log_info` are set to 1 first (through ARM;
 * with --no-arm checked, with the by-hand instruction).
 */
export function createReplicateStep(options: ReplicateOptions = {}): Step<'replicate'> {
  return {
    id: 'replicate',
    title: 'Replicate',
    describe: 'starts replication (az_replication_start, or START SLAVE) and waits until the replica has caught up with the source',
    // Every `datain start` ends here: replication stopped since is started again, a broken one is reported.
    alwaysRun: true,

    async plan(ctx): Promise<PlannedAction[]> {
      const mode = linkedMode(ctx)
      const controls = ctx.target.replication.planned(ctx.outputs.link?.procedureSchema)
      const actions: PlannedAction[] = []
      if (mode === 'file') {
        for (const name of SYNC_PARAMETERS) actions.push(ctx.target.parameters.plan(name, '1', 'Azure asks for it in file/position mode'))
      }
      const minutes = Math.round((options.timeoutMs ?? DEFAULT_CATCH_UP_TIMEOUT_MS) / 60_000)
      actions.push(
        {on: 'replica', kind: 'check', text: 'SHOW SLAVE STATUS -- replication already running: not started again, only waited for'},
        {on: 'replica', kind: 'sql', text: controls.statement('start')},
        {
          on: 'replica',
          kind: 'check',
          text:
            `SHOW SLAVE STATUS${mode === 'gtid' ? ', SELECT @@global.gtid_slave_pos' : ''} until both threads run and the replica has applied the source's ` +
            `${mode === 'gtid' ? '@@gtid_binlog_pos' : 'SHOW MASTER STATUS position'} read when the wait begins (at most ${minutes} min)`,
        },
      )
      return actions
    },

    async run(ctx): Promise<ReplicateOutput> {
      const mode = linkedMode(ctx)
      const replica = await ctx.replica()
      const parametersChanged = mode === 'file' ? await setSyncParameters(ctx) : (ctx.previous?.output?.parametersChanged ?? [])
      const controls = await ctx.target.replication.open(replica, ['start'])
      const startedAt = new Date().toISOString()
      const alreadyRunning = await startUnlessRunning(ctx, controls)

      const result = await waitUntilCaughtUp({
        // Functions, not connections: the session opens again one that the server dropped during the wait.
        replica: () => ctx.replica(),
        source: () => ctx.source(),
        mode,
        signal: ctx.signal,
        timeoutMs: options.timeoutMs,
        pollMs: options.pollMs,
        ioErrorGraceMs: options.ioErrorGraceMs,
        hint: {controls: hintControls(controls), profile: ctx.profile},
        // Only while behind: once caught up, the line below says so (it said it three times on a second start).
        onProgress: (lag, elapsed) => {
          if (!lag.caughtUp) ctx.ui.status(`Catching up (${Math.round(elapsed / 1000)} s): ${describeLag(lag)}`)
        },
      })
      const caughtUpAt = new Date().toISOString()
      const seconds = result.lag.seconds === null ? '' : ` (Seconds_Behind_Master ${result.lag.seconds} s)`
      ctx.ui.info(`The replica has caught up with the source${seconds}.`)
      const reached =
        mode === 'gtid'
          ? {gtidPosition: result.gtidSlavePos}
          : {binlogFile: result.status.relayMasterLogFile, binlogPosition: result.status.execMasterLogPos}
      return {
        mode,
        startedAt,
        caughtUpAt,
        alreadyRunning,
        ...reached,
        sourcePosition: {gtid: result.target.gtid, file: result.target.file, position: result.target.position},
        parametersChanged,
      }
    },
  }
}

/** The replicate step with its defaults (30 min to catch up). */
export const replicateStep: Step<'replicate'> = createReplicateStep()

/** The link's mode; before the link step is done (a dry run), the settings'. */
function linkedMode(ctx: StepContext): ReplicationMode {
  return ctx.outputs.link?.mode ?? (ctx.settings.gtid ? 'gtid' : 'file')
}

/** File/position mode: sync_master_info and sync_relay_log_info at 1, recorded as they are set. */
async function setSyncParameters(ctx: StepContext<'replicate'>): Promise<ParameterChange[]> {
  let parametersChanged = ctx.previous?.output?.parametersChanged ?? []
  for (const name of SYNC_PARAMETERS) {
    const change = await ctx.target.parameters.ensure(ctx, name, '1', 'so that file/position replication keeps its place across a crash of the replica, as Azure asks')
    parametersChanged = mergeChange(parametersChanged, change)
    if (change.changedByDatain) ctx.ui.info(`Set ${name}=1 on the replica (it was ${change.previous ?? 'unset'}).`)
  }
  await ctx.progress({parametersChanged})
  return parametersChanged
}

/** Starts replication unless it already runs; refuses a replica not linked to this profile's source. Returns whether it ran already. */
async function startUnlessRunning(ctx: StepContext, controls: ReplicationControls): Promise<boolean> {
  const status = await readReplicaStatus(await ctx.replica())
  if (!status) {
    throw new DatainError('The replica has no replication source (SHOW SLAVE STATUS is empty, or shows a removed link): the link step has not linked it, or the link was removed since. Run datain start again.', {
      code: 'E_NOT_LINKED',
      exit: ExitCode.failed,
    })
  }
  const {source} = ctx.settings
  if (!linkedTo(status, {host: source.publicHost, port: source.port, user: ctx.settings.replicationUser})) {
    throw new DatainError(
      `The replica replicates from ${status.masterHost}:${status.masterPort} as '${status.masterUser}', not from the source of this profile ` +
        `(${source.publicHost}:${source.port} as '${ctx.settings.replicationUser}'): its link was changed after datain made it. Run datain start again to link it.`,
      {code: 'E_REPLICA_LINKED', exit: ExitCode.failed},
    )
  }
  const alreadyRunning = status.ioThread !== 'stopped' && status.sqlRunning
  if (alreadyRunning) {
    ctx.ui.info('Replication already runs on the replica; waiting for it to catch up.')
  } else {
    await controls.start()
    await ctx.store.journal('replication-started', {statement: controls.statement('start')})
    ctx.ui.info('Started replication on the replica; waiting for it to catch up with the source.')
  }
  return alreadyRunning
}
