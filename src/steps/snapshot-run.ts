import type {Connection} from 'mariadb'
import {interruptedError} from '../lib/client-tool-errors.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {mergeChange} from '../replication/parameter-changes.js'
import {placeholders, quoteIdentifier} from '../lib/sql.js'
import {userDatabases} from '../preflight/context.js'
import type {StepContext} from './step.js'
import {formatProgress} from '../snapshot/single-stream.js'
import {formatBytes, formatDuration} from '../lib/format.js'
import {copyParallel, copyStreamed, type EngineResult, whyOneStream} from './snapshot-engines.js'
import {earlierCopyRecord, removeCopyJournal} from './snapshot-journal.js'
import type {CopyRecord} from '../snapshot/parallel/copy-plan.js'
import {SnapshotProgressReporter} from './snapshot-progress.js'
import type {TableSummary} from '../snapshot/progress.js'
import type {SnapshotOutput} from '../state/step-outputs.js'

export type {SnapshotOutput}

export const TRUST = 'log_bin_trust_function_creators'

/**
 * Copies the selected databases into the replica and returns the coordinates of the copy. Safe to
 * run again after a crash or failure at any point: the databases an earlier attempt recorded as its
 * own (`createdDatabases`, written through `ctx.progress` before the first byte reaches the replica)
 * are dropped first, and the copy starts afresh; no other database is ever dropped, except with
 * --force the selected ones already on the replica, which it replaces.
 */
export async function runSnapshot(ctx: StepContext<'snapshot'>): Promise<SnapshotOutput> {
  if (ctx.signal.aborted) throw interruptedError()
  const source = await ctx.source()
  const databases = await selectedDatabases(ctx, source)
  const replica = await ctx.replica()
  const earlier = ctx.previous?.output ?? {}
  const earlierCreated = earlier.createdDatabases ?? []
  const oneStream = ctx.parallel === 1 ? undefined : await whyOneStream(source, replica, databases)
  if (oneStream) {
    ctx.ui.info(`Copying as one stream (--parallel 1): ${oneStream}.`)
    ctx = {...ctx, parallel: 1}
  }
  let parametersChanged = earlier.parametersChanged ?? []

  // A parallel copy that recorded its tables resumes: what it loaded is checked against a new
  // snapshot, not copied again. Anything else left half done is dropped and copied afresh.
  const record = ctx.parallel !== 1 && earlier.engine === 'parallel' ? await earlierCopyRecord(ctx, earlier.copy) : undefined
  const resume = record !== undefined && databases.every((d) => earlierCreated.includes(d)) ? record : undefined
  if (resume) {
    ctx.ui.info(
      `Resuming the copy an unfinished run left in ${earlierCreated.join(', ')}: the parts it loaded are checked against a new snapshot of the source ` +
        'and loaded again only where they differ.',
    )
  } else if (earlierCreated.length > 0) {
    ctx.ui.info(`Dropping what an unfinished copy left on the replica: ${earlierCreated.join(', ')}.`)
    for (const database of earlierCreated) await replica.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(database)}`)
  }

  const present = (await presentOnReplica(replica, databases)).filter((d) => !resume || !earlierCreated.includes(d))
  if (present.length > 0 && !ctx.run.replaceDatabases) {
    throw new DatainError(
      `The replica already has ${present.length === 1 ? 'a database' : 'databases'} named ${present.join(', ')}, which datain did not create; ` +
        `it copies only into databases that do not exist yet, and will not overwrite them. Drop ${present.length === 1 ? 'it' : 'them'} on the replica ` +
        `if ${present.length === 1 ? 'it is' : 'they are'} not needed, or run 'datain start --replace-databases' to have this run replace ${present.length === 1 ? 'it' : 'them'} with the source's copy.`,
      {code: 'E_REPLICA_NOT_EMPTY', exit: ExitCode.failed, suggestions: [`DROP DATABASE ${quoteIdentifier(present[0]!)}`, `datain start --profile ${ctx.profile} --replace-databases`]},
    )
  }

  if (await holdsFunctionsOrTriggers(source, databases)) {
    const change = await ctx.target.parameters.ensure(ctx, TRUST, 'ON', 'so that the copy’s functions and triggers can be created without SUPER (error 1419)')
    parametersChanged = mergeChange(parametersChanged, change)
    if (change.changedByDatain) ctx.ui.info(`Set ${TRUST}=ON on the replica (it was ${change.previous ?? 'unset'}).`)
  }

  // Recorded before anything is created, so that a crash from here on leaves what a rerun must drop.
  const createdDatabases = [...databases]
  // `copy` starts empty: a record of an older attempt must not outlive this one's start.
  await ctx.progress({databases, createdDatabases, parametersChanged, engine: ctx.parallel === 1 ? 'stream' : 'parallel', ...(resume ? {} : {copy: {tables: []}})})
  // Named by no checkpoint any more: what an earlier copy's journal held goes.
  if (!resume) await removeCopyJournal(ctx)
  for (const database of present) await replica.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(database)}`)

  const {copy, tableSummary} = await copyWithProgress(ctx, {source, replica, databases, resume})
  reportCopy(ctx, databases, copy)
  const {binlogFile, binlogPosition, gtidPosition, result} = copy
  return {
    databases,
    createdDatabases,
    binlogFile,
    binlogPosition,
    gtidPosition,
    bytes: result.bytes,
    rows: result.rows,
    seconds: result.seconds,
    parametersChanged,
    engine: copy.engine,
    ...(copy.threads === undefined ? {} : {threads: copy.threads}),
    ...(copy.snapshotMethod === undefined ? {} : {snapshotMethod: copy.snapshotMethod, writesHeldMs: copy.writesHeldMs}),
    ...(copy.resumed ? {resumed: copy.resumed} : {}),
    definersRemoved: copy.definersRemoved,
    eventsDisabledOnSlave: copy.eventsDisabledOnSlave,
    tableSummary,
  }
}

/**
 * The copy by either engine, its progress published as it goes (the start's status line, the
 * profile's progress file for `datain status`, `progress` events under `start --json`).
 */
async function copyWithProgress(
  ctx: StepContext<'snapshot'>,
  o: {source: Connection; replica: Connection; databases: string[]; resume: CopyRecord | undefined},
): Promise<{copy: EngineResult; tableSummary: TableSummary}> {
  const totals = await copyTotals(o.source, o.databases)
  const onProgress = (p: Parameters<typeof formatProgress>[0]) => ctx.ui.status(`Copying: ${formatProgress(p)}`)
  const reporter = new SnapshotProgressReporter(ctx, totals)
  const watch = {onProgress, tally: reporter.tally}
  reporter.start()
  let copy: EngineResult
  try {
    copy = ctx.parallel === 1 ? await copyStreamed(ctx, o.databases, totals.rows, watch) : await copyParallel(ctx, o.source, o.replica, o.databases, watch, o.resume)
  } catch (error) {
    // What status shows of a run that failed: how far it got.
    await reporter.stop(false)
    throw error
  }
  await reporter.stop(true)
  return {copy, tableSummary: reporter.tally.summary()}
}

/** The lines that tell the user what the copy did. */
function reportCopy(ctx: StepContext, databases: string[], copy: EngineResult): void {
  const {binlogFile, binlogPosition, gtidPosition, result} = copy
  const rate = result.seconds > 0 ? `, ${formatBytes(result.bytes / result.seconds)}/s` : ''
  const held =
    copy.snapshotMethod === undefined
      ? ''
      : `; commits on the source were held ${copy.writesHeldMs} ms (${copy.snapshotMethod === 'backup-stage' ? 'BACKUP STAGE BLOCK_COMMIT' : 'FLUSH TABLES WITH READ LOCK'})`
  ctx.ui.info(
    `Copied ${databases.join(', ')}: ${formatBytes(result.bytes)}, ${result.rows.toLocaleString('en-US')} rows in ${formatDuration(result.seconds)}${rate}` +
      `${copy.threads === undefined ? '' : ` with ${copy.threads} thread${copy.threads === 1 ? '' : 's'}`}; ` +
      `source position ${binlogFile}:${binlogPosition}${gtidPosition ? `, GTID ${gtidPosition}` : ''}${held}.`,
  )
  if (copy.definersRemoved > 0 || copy.eventsDisabledOnSlave > 0) {
    ctx.ui.info(
      `Routines, triggers, events and views: ${copy.definersRemoved} DEFINER clause${copy.definersRemoved === 1 ? '' : 's'} removed (the replica's admin defines them), ` +
        `${copy.eventsDisabledOnSlave} event${copy.eventsDisabledOnSlave === 1 ? '' : 's'} made DISABLE ON SLAVE.`,
    )
  }
}

async function selectedDatabases(ctx: StepContext, source: Connection): Promise<string[]> {
  const databases = ctx.settings.databases.length > 0 ? ctx.settings.databases : await userDatabases(source)
  if (databases.length === 0) {
    throw new DatainError('The source has no database to copy (only system databases). Create the application’s databases first, or name them with --databases.', {
      code: 'E_NOTHING_TO_COPY',
      exit: ExitCode.failed,
    })
  }
  return databases
}

/** The selected databases that exist on the replica, by the replica's own rules for name case. */
async function presentOnReplica(replica: Connection, databases: string[]): Promise<string[]> {
  const [row] = (await replica.query('SELECT @@lower_case_table_names AS lctn')) as Array<{lctn: number}>
  const fold = (name: string) => (Number(row?.lctn ?? 0) === 0 ? name : name.toLowerCase())
  const rows = (await replica.query('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA')) as Array<{name: string}>
  const existing = new Set(rows.map((r) => fold(r.name)))
  return databases.filter((d) => existing.has(fold(d)))
}

async function holdsFunctionsOrTriggers(source: Connection, databases: string[]): Promise<boolean> {
  const [row] = (await source.query(
    `SELECT (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'FUNCTION' AND ROUTINE_SCHEMA IN (${placeholders(databases.length)}))
          + (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN (${placeholders(databases.length)})) AS n`,
    [...databases, ...databases],
  )) as Array<{n: number}>
  return Number(row?.n ?? 0) > 0
}

/** The base tables, and information_schema's row estimate (InnoDB's is approximate): what progress counts toward. */
async function copyTotals(source: Connection, databases: string[]): Promise<{tables: number; rows: number}> {
  const [row] = (await source.query(
    `SELECT COUNT(*) AS tables, COALESCE(SUM(TABLE_ROWS), 0) AS n FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (${placeholders(databases.length)})`,
    databases,
  )) as Array<{tables: number | bigint; n: number}>
  return {tables: Number(row?.tables ?? 0), rows: Number(row?.n ?? 0)}
}

