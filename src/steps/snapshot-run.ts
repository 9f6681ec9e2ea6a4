import type {Connection} from 'mariadb'
import {interruptedError} from '../lib/child-process.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {connectTo} from '../lib/mariadb.js'
import {ensureServerParameter} from '../azure/server-parameters.js'
import {mergeChange} from '../replication/parameter-changes.js'
import {placeholders, quoteIdentifier} from '../lib/sql.js'
import {userDatabases} from '../preflight/context.js'
import type {PlannedAction, StepContext} from './step.js'
import {describeCopy, formatBytes, formatDuration, formatProgress, streamCopy} from '../snapshot/single-stream.js'
import type {SnapshotPoint} from '../snapshot/parallel/consistent-snapshot.js'
import {type CopyRecord, defaultThreads, parallelCopy} from '../snapshot/parallel/parallel-copy.js'
import {createObjects, readObjects} from '../snapshot/objects/copy-objects.js'
import {copySequenceValues, createSchema} from '../snapshot/parallel/schema.js'
import type {SnapshotOutput} from '../state/step-outputs.js'

export type {SnapshotOutput}

const TRUST = 'log_bin_trust_function_creators'

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
  const record = ctx.parallel !== 1 && earlier.engine === 'parallel' ? copyRecord(earlier.copy) : undefined
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
    const change = await ensureServerParameter(ctx, TRUST, 'ON', 'so that the copy’s functions and triggers can be created without SUPER (error 1419)')
    parametersChanged = mergeChange(parametersChanged, change)
    if (change.changedByDatain) ctx.ui.info(`Set ${TRUST}=ON on the replica (it was ${change.previous ?? 'unset'}).`)
  }

  // Recorded before anything is created, so that a crash from here on leaves what a rerun must drop.
  const createdDatabases = [...databases]
  // `copy` starts empty: a record of an older attempt must not outlive this one's start.
  await ctx.progress({databases, createdDatabases, parametersChanged, engine: ctx.parallel === 1 ? 'stream' : 'parallel', ...(resume ? {} : {copy: {tables: []}})})
  for (const database of present) await replica.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(database)}`)

  const estimatedRows = await estimateRows(source, databases)
  const onProgress = (p: Parameters<typeof formatProgress>[0]) => ctx.ui.status(`Copying: ${formatProgress(p)}`)
  const copy = ctx.parallel === 1 ? await copyStreamed(ctx, databases, estimatedRows, onProgress) : await copyParallel(ctx, source, replica, databases, onProgress, resume)
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
  }
}

interface EngineResult {
  engine: 'parallel' | 'stream'
  binlogFile: string
  binlogPosition: number
  gtidPosition: string
  result: {bytes: number; rows: number; seconds: number}
  threads?: number
  snapshotMethod?: SnapshotPoint['method']
  writesHeldMs?: number
  resumed?: {keptChunks: number; keptRows: number; reloadedChunks: number}
  definersRemoved: number
  eventsDisabledOnSlave: number
}

/** Why the parallel copy cannot do this copy (the single stream then does it), or undefined. */
async function whyOneStream(source: Connection, replica: Connection, databases: string[]): Promise<string | undefined> {
  // It loads with LOAD DATA LOCAL, which a replica whose server parameter local_infile is OFF refuses.
  const [infile] = (await replica.query('SELECT @@local_infile AS on_')) as Array<{on_: number | bigint | string}>
  if (!['1', 'ON'].includes(String(infile?.on_).toUpperCase())) {
    return 'the replica’s server parameter local_infile is OFF, so it refuses LOAD DATA LOCAL (turn it ON in the portal to copy with several threads)'
  }
  // It copies tables, not SEQUENCE objects: the single stream carries them (createSchema, copySequenceValues).
  if (databases.length === 0) return undefined
  const rows: Array<{name: string}> = await source.query(
    `SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS name FROM information_schema.TABLES WHERE TABLE_TYPE = 'SEQUENCE' AND TABLE_SCHEMA IN (${placeholders(databases.length)})`,
    databases,
  )
  return rows.length > 0 ? `the parallel copy does not carry sequences (${rows.map((r) => r.name).join(', ')})` : undefined
}

/**
 * `--parallel 1`: the databases, tables and sequences created through the connector, then the rows
 * as mariadb-dump --single-transaction writes them (data only) piped into mariadb, then the
 * sequences' values, then the routines, triggers, events and views (read before the rows, as close
 * to the snapshot as this copy gets), one checked statement at a time.
 */
async function copyStreamed(ctx: StepContext, databases: string[], estimatedRows: number, onProgress: (p: Parameters<typeof formatProgress>[0]) => void): Promise<EngineResult> {
  // Connections of its own: the DDL sessions' settings must not stay on the step's.
  const replica = await connectTo('replica', ctx.replicaAddress)
  const source = await connectTo('source', ctx.sourceAddress).catch(async (error: unknown) => {
    await replica.end()
    throw error
  })
  try {
    const {sequences} = await createSchema(source, replica, databases)
    const objects = await readObjects(source, databases)
    if (ctx.signal.aborted) throw interruptedError()
    const result = await streamCopy({source: ctx.sourceAddress, replica: ctx.replicaAddress, databases, signal: ctx.signal, estimatedRows, onProgress})
    if (ctx.signal.aborted) throw interruptedError()
    await copySequenceValues(source, replica, sequences)
    const created = await createObjects(replica, objects)
    const {binlogFile, binlogPosition} = result.coordinates
    let gtidPosition = result.coordinates.gtidPosition
    if (gtidPosition === undefined) {
      if (ctx.settings.gtid) {
        throw new DatainError(
          'mariadb-dump wrote no GTID position for its snapshot (`-- SET GLOBAL gtid_slave_pos`), which GTID-based replication starts from. ' +
            "The source may be too old for GTIDs (MariaDB 10.0+), or its mariadb-dump too old for --gtid: use the client tools of the source's version or later, or set up replication with --no-gtid.",
          {code: 'E_SNAPSHOT_COORDINATES', exit: ExitCode.failed},
        )
      }
      gtidPosition = ''
    }
    return {engine: 'stream', binlogFile, binlogPosition, gtidPosition, result, definersRemoved: created.definers, eventsDisabledOnSlave: created.eventsDisabledOnSlave}
  } finally {
    await Promise.allSettled([source.end(), replica.end()])
  }
}

/** Several workers in one consistent snapshot, LOAD DATA LOCAL into the replica (see parallelCopy). */
async function copyParallel(
  ctx: StepContext,
  source: Connection,
  replica: Connection,
  databases: string[],
  onProgress: (p: Parameters<typeof formatProgress>[0]) => void,
  resume: CopyRecord | undefined,
): Promise<EngineResult> {
  let threads = ctx.parallel
  if (threads === undefined) {
    const chosen = await defaultThreads(source, replica)
    threads = chosen.threads
    ctx.ui.info(`Copying with ${threads} threads (${chosen.why}; --parallel N to choose).`)
  }
  const result = await parallelCopy({
    source: ctx.sourceAddress,
    replica: ctx.replicaAddress,
    databases,
    threads,
    signal: ctx.signal,
    onProgress,
    resume,
    onRecord: (copy) => ctx.progress({copy}),
  })
  const {point} = result
  if (resume) {
    ctx.ui.info(
      `Of the ${result.chunks} parts of the copy, ${result.keptChunks} (${result.keptRows.toLocaleString('en-US')} rows) still matched the source and were kept; ` +
        `${result.reloadedChunks} were loaded again, the others copied.`,
    )
  }
  return {
    engine: 'parallel',
    binlogFile: point.binlogFile,
    binlogPosition: point.binlogPosition,
    gtidPosition: point.gtidPosition,
    result,
    threads: result.threads,
    snapshotMethod: point.method,
    writesHeldMs: point.writesHeldMs,
    definersRemoved: result.definers,
    eventsDisabledOnSlave: result.eventsDisabledOnSlave,
    ...(resume ? {resumed: {keptChunks: result.keptChunks, keptRows: result.keptRows, reloadedChunks: result.reloadedChunks}} : {}),
  }
}

/** The record of an earlier parallel copy, if the checkpoint holds a well-formed one. */
function copyRecord(value: unknown): CopyRecord | undefined {
  const tables = (value as {tables?: unknown})?.tables
  if (!Array.isArray(tables) || tables.length === 0) return undefined
  const ok = tables.every(
    (t) =>
      typeof t?.database === 'string' &&
      typeof t.name === 'string' &&
      typeof t.definition === 'string' &&
      Array.isArray(t.bounds) &&
      t.bounds.every((b: unknown) => typeof b === 'string' && /^-?\d+$/.test(b)) &&
      Array.isArray(t.done) &&
      t.done.every((d: unknown) => Number.isSafeInteger(d)),
  )
  return ok ? (value as CopyRecord) : undefined
}

const SCHEMA_ACTION: PlannedAction = {
  on: 'replica',
  kind: 'sql',
  text:
    'CREATE DATABASE … / CREATE TABLE … / CREATE SEQUENCE …  -- as SHOW CREATE on the source, with their indexes, each checked to create exactly the object asked for, ' +
    'one statement per query on a connection that allows no LOAD DATA LOCAL',
}

const OBJECTS_ACTION: PlannedAction = {
  on: 'replica',
  kind: 'sql',
  text:
    'CREATE PROCEDURE / FUNCTION / VIEW / TRIGGER / EVENT …  -- after the rows (so triggers do not fire for them), as SHOW CREATE on the source, one statement per query ' +
    'in the object\'s own sql_mode and character set, no mariadb-dump, no delimiters; only the head changes: DEFINER clauses removed (the replica admin becomes the definer), ' +
    'events made DISABLE ON SLAVE; the body is the source\'s byte for byte, checked after',
}

/** What the snapshot would do, for --dry-run: SQL, the ARM call, both command lines (password `***`), the transform. */
export async function planSnapshot(ctx: StepContext<'snapshot'>): Promise<PlannedAction[]> {
  let databases = ctx.settings.databases
  if (databases.length === 0) {
    try {
      databases = await userDatabases(await ctx.source())
    } catch {
      databases = []
    }
  }
  const shownDatabases = databases.length > 0 ? databases : ['<every database of the source but the system ones>']
  const actions: PlannedAction[] = []
  for (const database of ctx.previous?.output?.createdDatabases ?? []) {
    actions.push({on: 'replica', kind: 'sql', text: `DROP DATABASE IF EXISTS ${quoteIdentifier(database)}  -- left by an unfinished copy`})
  }
  actions.push({
    on: 'replica',
    kind: 'check',
    text: ctx.run.replaceDatabases
      ? `the selected databases that already exist on the replica are dropped and copied again (--replace-databases, this run only): DROP DATABASE IF EXISTS …`
      : `none of ${shownDatabases.join(', ')} exists on the replica yet`,
  })
  if (ctx.arm) {
    const {target} = ctx.arm
    const url =
      `${target.endpoint ?? 'https://management.azure.com'}/subscriptions/${target.subscription}/resourceGroups/${target.resourceGroup}` +
      `/providers/Microsoft.DBforMariaDB/servers/${target.server}/configurations/${TRUST}?api-version=2018-06-01`
    actions.push({
      on: 'azure',
      kind: 'arm',
      text: `PUT ${url} {"properties":{"value":"ON","source":"user-override"}}  -- configurations.beginCreateOrUpdateAndWait, only if the copy holds functions or triggers and ${TRUST} is not ON (error 1419)`,
    })
  } else {
    actions.push({on: 'replica', kind: 'check', text: `${TRUST} is ON when the copy holds functions or triggers (--no-arm: set it by hand)`})
  }
  if (ctx.parallel !== 1) {
    const threads = ctx.parallel === undefined ? 'N (one per core, 2 to 8, within both servers’ spare connections)' : String(ctx.parallel)
    actions.push(
      {
        on: 'source',
        kind: 'sql',
        text:
          'BACKUP STAGE START; BACKUP STAGE BLOCK_COMMIT (FLUSH TABLES WITH READ LOCK before 10.4); ' +
          `START TRANSACTION WITH CONSISTENT SNAPSHOT on ${threads} connections at once; BACKUP STAGE END  -- commits wait the milliseconds this takes; ` +
          "every SHOW STATUS LIKE 'binlog_snapshot_%' must agree; SELECT BINLOG_GTID_POS(file, position)",
      },
      SCHEMA_ACTION,
      {
        on: 'replica',
        kind: 'sql',
        text:
          "LOAD DATA LOCAL INFILE 'datain-rows' INTO TABLE … CHARACTER SET binary  -- per table, large tables in ranges of their primary key, " +
          'rows streamed from SELECT CAST(… AS BINARY) in the snapshot, at most 500 kB a statement, every row and warning checked',
      },
      OBJECTS_ACTION,
      {on: 'local', kind: 'note', text: '--parallel 1 copies the rows in one stream of mariadb-dump into mariadb instead.'},
    )
    return actions
  }
  const commands = describeCopy({source: ctx.sourceAddress, replica: ctx.replicaAddress, databases: shownDatabases})
  actions.push(
    SCHEMA_ACTION,
    {on: 'local', kind: 'process', text: `${commands.dump} | <datain's check> | ${commands.load}`},
    {
      on: 'local',
      kind: 'note',
      text:
        'the dump carries rows only, passed through unchanged with no file on disk: binlog file/position and GTID read from its comments, rows counted; ' +
        'any statement a dump of rows does not hold (only session SETs, USE, LOCK/UNLOCK TABLES, ALTER TABLE … KEYS and INSERT pass) stops the copy before the replica runs it.',
    },
    {on: 'replica', kind: 'sql', text: 'SELECT SETVAL(…, <next value not cached on the source>, 0)  -- per sequence, after the rows'},
    OBJECTS_ACTION,
  )
  return actions
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

/** information_schema's row estimate (InnoDB's is approximate): what the progress line counts toward. */
async function estimateRows(source: Connection, databases: string[]): Promise<number> {
  const [row] = (await source.query(
    `SELECT COALESCE(SUM(TABLE_ROWS), 0) AS n FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (${placeholders(databases.length)})`,
    databases,
  )) as Array<{n: number}>
  return Number(row?.n ?? 0)
}

