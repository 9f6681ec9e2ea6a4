import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../lib/errors.js'
import {GatewayRefusedError} from '../lib/mariadb.js'
import {registerSecret} from '../lib/redact.js'
import {databaseFilterCheck, FILTER_PARAMETER, replicationFilter, type ReplicationFilter} from '../preflight/compat/database-filter.js'
import {mergeChange} from '../replication/parameter-changes.js'
import {compareCoordinates, gtidIncludes, parseGtidPosition, sameGtidPosition} from '../replication/position.js'
import type {PlannedLinkSpec, ReplicationControls, ReplicationTexts} from '../targets/target.js'
import {linkedTo, type ReplicaStatus, type ReplicationMode, readGtidSlavePos, readReplicaStatus} from '../replication/slave-status.js'
import {giveAccountPassword} from './replication-password.js'
import type {PlannedAction, Step, StepContext} from './step.js'
import type {LinkOutput} from '../state/step-outputs.js'

export type {LinkOutput}

interface Coordinates {
  mode: ReplicationMode
  gtidPosition?: string
  binlogFile?: string
  binlogPosition?: number
}

/**
 * Points the replica at the source with Azure's `az_replication_change_master[_with_gtid]`, from the
 * snapshot's coordinates, with the source's CA, and sets the replication filter a subset of databases
 * needs before anything replicates.
 *
 * Safe to re-run: it reads SHOW SLAVE STATUS first. Already replicating from this source (host, port,
 * user): nothing to do. Linked to it and stopped: the procedure is called again with the same recorded
 * coordinates, unless the replica has already applied past them (it was started once), in which case
 * the link is kept, since calling again would rewind it and apply transactions twice. Linked to another
 * source: refused, unless --force.
 */
export const linkStep: Step<'link'> = {
  id: 'link',
  title: 'Link',
  describe: "points the replica at the source from the snapshot's position (Azure's az_replication_change_master procedure, or CHANGE MASTER TO)",

  async plan(ctx): Promise<PlannedAction[]> {
    const coords = plannedCoordinates(ctx)
    const controls = await plannedControls(ctx)
    const actions: PlannedAction[] = [
      {
        on: 'replica',
        kind: 'check',
        text: `SHOW SLAVE STATUS -- already replicating from this source: nothing to do; linked to another source: ${ctx.run.takeOverReplica ? 'stopped and replaced (--take-over-replica, this run only)' : 'refused (datain start --take-over-replica replaces it)'}`,
      },
      {on: 'replica', kind: 'check', text: 'SELECT @@global.general_log -- must be OFF whatever the flags: MariaDB would write the password passed to the procedure into it'},
    ]
    const filter = await subsetFilter(ctx)
    if (filter) actions.push(filterAction(ctx, filter))
    actions.push({on: 'replica', kind: 'sql', text: `${changeMasterText(ctx, controls, coords)}  -- ${controls.linkSecrecy}`})
    return actions
  },

  async run(ctx): Promise<LinkOutput> {
    const coords = snapshotCoordinates(ctx)
    const replica = await ctx.replica()
    const controls = await ctx.target.replication.open(replica, ['link', 'stop'])
    const {source} = ctx.settings
    let parametersChanged = ctx.previous?.output?.parametersChanged ?? []
    const filter = await subsetFilter(ctx)
    const output = (action: LinkOutput['action']): LinkOutput => ({
      procedureSchema: controls.where,
      ...coords,
      sourceHost: source.publicHost,
      sourcePort: source.port,
      sourceUser: ctx.settings.replicationUser,
      tls: source.sslCa !== undefined,
      ...(filter ? {filter: {parameter: FILTER_PARAMETER, value: filter.value, ignored: filter.ignored}} : {}),
      parametersChanged,
      action,
    })
    const applyFilter = async () => {
      if (!filter) return
      const change = await ctx.target.parameters.ensure(ctx, FILTER_PARAMETER, filter.value, `so that writes to the databases not copied (${filter.ignored.join(', ')}) do not stop replication (error 1146)`)
      parametersChanged = mergeChange(parametersChanged, change)
      if (change.changedByDatain) ctx.ui.info(`Set ${FILTER_PARAMETER}=${filter.value} on the replica, so that it skips the databases not copied.`)
    }

    let status = await readReplicaStatus(replica)
    if (status && !linkedToThisSource(status, ctx)) {
      status = await replaceForeignLink(ctx, controls, status)
    }
    if (status && isStarted(status)) {
      if (!filter || (await filterInPlace(ctx, filter))) {
        ctx.ui.info(`The replica already replicates from ${source.publicHost}:${source.port}: nothing to link.`)
        return output('running')
      }
      // The replica refuses to change its filter while replicating (error 1198): stop it, and let the replicate step start it again.
      ctx.ui.info(`Stopping replication to set ${FILTER_PARAMETER}; the next step starts it again.`)
      await controls.stop()
      status = await readReplicaStatus(replica)
    }

    await applyFilter()
    if (status && (await appliedPastSnapshot(replica, status, coords))) {
      ctx.ui.info(
        `The replica is linked to ${source.publicHost}:${source.port} and has already applied changes past the snapshot; ` +
          'datain keeps that link, since linking again would start over from the snapshot and apply those changes twice.',
      )
      return output('kept')
    }

    await controls.assertPasswordStaysSecret()
    const password = await ctx.replicationPassword()
    registerSecret(password)
    // The password in use may not be the one the account got (DATAIN_REPLICATION_PASSWORD set in one run, not the next).
    await giveAccountPassword(ctx, password)
    const position = coords.mode === 'gtid' ? {mode: 'gtid' as const, gtid: coords.gtidPosition!} : {mode: 'file' as const, file: coords.binlogFile!, position: coords.binlogPosition!}
    const {host, port, user, caLabel} = linkSpec(ctx, coords)
    await controls.link({host, port, user, caLabel, position, sourceCaFile: source.sslCa, sourceTls: source.ssl !== 'off'}, password)
    const result = output('linked')
    await ctx.store.journal('replica-linked', {statement: changeMasterText(ctx, controls, coords), ...result})
    ctx.ui.info(
      `Linked the replica to ${source.publicHost}:${source.port} as ${ctx.settings.replicationUser}` +
        (coords.mode === 'gtid' ? `, from GTID ${coords.gtidPosition}` : `, from ${coords.binlogFile}:${coords.binlogPosition}`) +
        (source.sslCa ? ', over TLS.' : ', without TLS (the source has no CA).'),
    )
    return result
  },
}

/** The snapshot's coordinates, for the mode of the settings. E_NO_SNAPSHOT when the checkpoint lacks them. */
function snapshotCoordinates(ctx: StepContext): Coordinates {
  const snapshot = ctx.outputs.snapshot
  const missing = (what: string) =>
    new DatainError(
      `The link step needs the snapshot's ${what}, and the checkpoint of profile "${ctx.profile}" holds none. ` +
        `Run datain start again: the snapshot step copies the data and records where the source stood.`,
      {code: 'E_NO_SNAPSHOT', exit: ExitCode.failed},
    )
  if (ctx.settings.gtid) {
    const gtidPosition = snapshot?.gtidPosition
    if (gtidPosition === undefined || gtidPosition.trim() === '') throw missing('GTID position')
    try {
      parseGtidPosition(gtidPosition)
    } catch {
      throw new DatainError(`The snapshot's GTID position in the checkpoint of profile "${ctx.profile}" is not one: '${gtidPosition}'.`, {
        code: 'E_NO_SNAPSHOT',
        exit: ExitCode.failed,
      })
    }
    return {mode: 'gtid', gtidPosition}
  }
  const {binlogFile, binlogPosition} = snapshot ?? {}
  if (binlogFile === undefined || binlogFile === '' || binlogPosition === undefined || !Number.isInteger(binlogPosition)) {
    throw missing('binlog file and position')
  }
  return {mode: 'file', binlogFile, binlogPosition}
}

function plannedCoordinates(ctx: StepContext): Coordinates {
  try {
    return snapshotCoordinates(ctx)
  } catch (error) {
    if (!(error instanceof DatainError)) throw error
    return ctx.settings.gtid
      ? {mode: 'gtid', gtidPosition: '<GTID position of the snapshot>'}
      : {mode: 'file', binlogFile: '<binlog file of the snapshot>', binlogPosition: undefined}
  }
}

/** The replica's controls as a plan names them; the target's defaults while the replica's firewall still refuses this machine. */
async function plannedControls(ctx: StepContext): Promise<ReplicationTexts> {
  let replica: Connection
  try {
    replica = await ctx.replica()
  } catch (error) {
    if (error instanceof GatewayRefusedError) return ctx.target.replication.planned()
    throw error
  }
  return ctx.target.replication.open(replica, ['link'])
}

/** Where the link points, as plans and the journal show it: the CA as `<PEM of FILE>`. */
function linkSpec(ctx: StepContext, coords: Coordinates): PlannedLinkSpec {
  const {source} = ctx.settings
  const position = coords.mode === 'gtid' ? [coords.gtidPosition ?? ''] : [coords.binlogFile ?? '', coords.binlogPosition ?? '<binlog position of the snapshot>']
  return {
    host: source.publicHost,
    port: source.port,
    user: ctx.settings.replicationUser,
    mode: coords.mode,
    position,
    caLabel: source.sslCa ? `<PEM of ${source.sslCa}>` : '',
    sourceTls: source.ssl !== 'off',
  }
}

/** The link statement as a person reads it: the password `***`, the CA `<PEM of FILE>`. */
function changeMasterText(ctx: StepContext, controls: ReplicationTexts, coords: Coordinates): string {
  return controls.linkStatement(linkSpec(ctx, coords))
}

/**
 * The filter `--databases` needs, computed from the source's databases now; undefined when every one
 * is copied, or when the preflight warned that it cannot be set (real Azure MariaDB may offer no
 * replicate_wild_ignore_table) and the profile accepts that (`init --unfiltered-subset`).
 */
async function subsetFilter(ctx: StepContext): Promise<ReplicationFilter | undefined> {
  if (ctx.settings.databases.length === 0) return undefined
  if (ctx.outputs.preflight?.warnings.includes(databaseFilterCheck.id)) return undefined
  return replicationFilter(await ctx.source(), ctx.settings.databases)
}

function filterAction(ctx: StepContext, filter: ReplicationFilter): PlannedAction {
  return ctx.target.parameters.plan(FILTER_PARAMETER, filter.value, `so that the databases not copied (${filter.ignored.join(', ')}) are skipped`)
}

async function filterInPlace(ctx: StepContext, filter: ReplicationFilter): Promise<boolean> {
  const [row] = (await (await ctx.replica()).query(`SELECT @@global.${FILTER_PARAMETER} AS value`)) as Array<{value: string | null}>
  return (row?.value ?? '') === filter.value
}

function linkedToThisSource(status: ReplicaStatus, ctx: StepContext): boolean {
  return linkedTo(status, {host: ctx.settings.source.publicHost, port: ctx.settings.source.port, user: ctx.settings.replicationUser})
}

/** A replica thread runs (the IO thread also while it retries a connection). */
function isStarted(status: ReplicaStatus): boolean {
  return status.ioThread !== 'stopped' || status.sqlRunning
}

/**
 * The replica is linked elsewhere: refused (E_REPLICA_LINKED), or with `start --take-over-replica` stopped so that the
 * procedure can point it here. Returns the status to go on with (undefined: as if never linked).
 */
async function replaceForeignLink(ctx: StepContext, controls: ReplicationControls, status: ReplicaStatus): Promise<ReplicaStatus | undefined> {
  const where = `${status.masterHost}:${status.masterPort} as '${status.masterUser}'`
  const running = isStarted(status)
  if (!ctx.run.takeOverReplica) {
    const {source} = ctx.settings
    throw new DatainError(
      `The replica is already linked to another source: it ${running ? 'replicates' : 'was set to replicate'} from ${where}, ` +
        `not from ${source.publicHost}:${source.port} as '${ctx.settings.replicationUser}'. datain does not take over a link it did not make. ` +
        `If that link is no longer wanted, remove it on the replica (${unlinkCommand(controls)}) ` +
        `and run datain start again, or run 'datain start --profile ${ctx.profile} --take-over-replica' to have this run replace it.`,
      {
        code: 'E_REPLICA_LINKED',
        exit: ExitCode.failed,
        suggestions: [unlinkCommand(controls), `datain start --profile ${ctx.profile} --take-over-replica`],
      },
    )
  }
  ctx.ui.info(`Replacing the replica's link to ${where} (--take-over-replica, this run only).`)
  if (running) await controls.stop()
  return undefined
}

/** What a DBA types to drop a link: the target's remove, after its stop unless the remove stops replication itself (RESET SLAVE ALL's does). */
function unlinkCommand(controls: ReplicationControls): string {
  const remove = controls.command('remove')
  return remove.includes(controls.command('stop')) ? `${remove};` : `${controls.command('stop')}; ${remove};`
}

/**
 * Whether the replica, linked to this source and stopped, has applied changes past the snapshot's
 * coordinates: then it was started once, and calling the procedure again would rewind it.
 */
async function appliedPastSnapshot(replica: Connection, status: ReplicaStatus, coords: Coordinates): Promise<boolean> {
  if (coords.mode === 'gtid') {
    const applied = await readGtidSlavePos(replica)
    return gtidIncludes(applied, coords.gtidPosition!) && !sameGtidPosition(applied, coords.gtidPosition!)
  }
  const applied = {file: status.relayMasterLogFile, position: status.execMasterLogPos}
  return applied.file !== '' && compareCoordinates(applied, {file: coords.binlogFile!, position: coords.binlogPosition!}) > 0
}
