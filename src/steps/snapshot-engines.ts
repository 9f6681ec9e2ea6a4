import type {Connection} from 'mariadb'
import {interruptedError} from '../lib/client-tool-errors.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {KEYS_AFTER_ROWS_ENV, keysAfterRowsBytes} from '../lib/keys-after-rows.js'
import {connectTo} from '../lib/mariadb.js'
import {placeholders} from '../lib/sql.js'
import {createObjects, readObjects} from '../snapshot/objects/copy-objects.js'
import type {SnapshotPoint} from '../snapshot/parallel/consistent-snapshot.js'
import {type CopyRecord, defaultThreads, parallelCopy} from '../snapshot/parallel/parallel-copy.js'
import {copySequenceValues, createSchema} from '../snapshot/parallel/schema.js'
import type {CopyTally} from '../snapshot/progress.js'
import {type CopyProgress, streamCopy} from '../snapshot/single-stream.js'
import {SnapshotCopyLog} from './snapshot-journal.js'
import type {StepContext} from './step.js'

/** Where either engine reports as it goes: the progress line, and the tally behind status and `start --json`. */
export interface CopyWatch {
  onProgress: (p: CopyProgress) => void
  tally: CopyTally
}

/** What either copy engine gives the snapshot step. */
export interface EngineResult {
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

export /** Why the parallel copy cannot do this copy (the single stream then does it), or undefined. */
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

export /**
 * `--parallel 1`: the databases, tables and sequences created through the connector, then the rows
 * as mariadb-dump --single-transaction writes them (data only) piped into mariadb, then the
 * sequences' values, then the routines, triggers, events and views (read before the rows, as close
 * to the snapshot as this copy gets), one checked statement at a time.
 */
async function copyStreamed(ctx: StepContext, databases: string[], estimatedRows: number, watch: CopyWatch): Promise<EngineResult> {
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
    const result = await streamCopy({source: ctx.sourceAddress, replica: ctx.replicaAddress, databases, signal: ctx.signal, estimatedRows, ...watch})
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

export /** Several workers in one consistent snapshot, LOAD DATA LOCAL into the replica (see parallelCopy). */
async function copyParallel(
  ctx: StepContext,
  source: Connection,
  replica: Connection,
  databases: string[],
  watch: CopyWatch,
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
    ...watch,
    resume,
    // Validated at the start of the command (bad input ends it before anything is done); read here again.
    deferKeysBytes: keysAfterRowsBytes(),
    log: new SnapshotCopyLog(ctx),
  })
  const {point} = result
  if (resume) {
    ctx.ui.info(
      `Of the ${result.chunks} parts of the copy, ${result.keptChunks} (${result.keptRows.toLocaleString('en-US')} rows) still matched the source and were kept; ` +
        `${result.reloadedChunks} were loaded again, the others copied.`,
    )
  }
  if (result.keyedAfterRows > 0) {
    const n = result.keyedAfterRows
    ctx.ui.info(
      `The non-unique indexes of ${n} table${n === 1 ? ' were' : 's were'} built after ${n === 1 ? 'its' : 'their'} rows ` +
        `(one sorted build each: less work for the replica; ${KEYS_AFTER_ROWS_ENV} sets from which size, 'off' for none).`,
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
