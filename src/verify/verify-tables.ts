import {DatainError, ExitCode} from '../lib/errors.js'
import {quoteUntrusted} from '../lib/ip-ranges.js'
import {connectionLost, connectTo, type ServerAddress} from '../lib/mariadb.js'
import {tableLabel} from '../snapshot/parallel/tables.js'
import type {ReplicationMode} from '../replication/slave-status.js'
import {nextBound, tableChecksum, type VerifyTable} from './checksum.js'
import {compareChunk, type CompareOptions, type ServerPair} from './compare.js'
import {displayKey, type KeyValue} from './keys.js'
import {planTables, type Selection} from './plan.js'
import {requireReplicating} from './position.js'
import type {TableResult, VerifyProgress, VerifyResult} from './result.js'
import {phase} from './timing.js'

/** Listed in the result at most; the count says how many more differ. */
export const MAX_LISTED_DIFFERENCES = 10_000

export interface VerifyInputs extends Selection, Partial<CompareOptions> {
  source: ServerAddress
  replica: ServerAddress
  mode: ReplicationMode
  /** Tables compared at once, each with its own connection to each server. */
  parallel?: number
  /** Rows per chunk. */
  chunkRows?: number
  /** false: compare every table chunk by chunk, as when writes make CHECKSUM TABLE differ (the bench measures that path). */
  tableChecksum?: boolean
  onProgress?(progress: VerifyProgress): void
  signal?: AbortSignal
}

/**
 * Compares the selected tables of the replica with the source while replication runs, reading
 * only. Throws exit 3 when replication is broken (before comparing anything) and exit 4 when a
 * server is unreachable; returns the tables' results and the rows that differ otherwise. This is
 * what `datain verify` runs, and what `datain stop --cutover --verify` calls after the catch-up.
 */
export async function verifyTables(inputs: VerifyInputs): Promise<VerifyResult> {
  const started = Date.now()
  const options: CompareOptions = {mode: inputs.mode, rechecks: inputs.rechecks ?? 3, waitTimeout: inputs.waitTimeout ?? 60}
  const pairs: ServerPair[] = []
  try {
    phase('comparing starts')
    const first = await openPair(inputs)
    pairs.push(first)
    phase('first pair open')
    // Replication checked first: broken, nothing is compared (the other connections are only opened meanwhile).
    const wanted = Math.max(1, inputs.parallel ?? 4)
    const others = Promise.allSettled(Array.from({length: wanted - 1}, () => openPair(inputs)))
    // Both settled before anything is ended: a connection ended under a query in flight leaves it unanswered.
    const [replicating, planned] = await Promise.allSettled([requireReplicating(first.replica), planTables(first.source, inputs)]).finally(async () => {
      for (const opened of await others) if (opened.status === 'fulfilled') pairs.push(opened.value)
    })
    if (replicating.status === 'rejected') throw replicating.reason
    if (planned.status === 'rejected') throw planned.reason
    const tables = planned.value
    phase('replication checked, tables planned, all pairs open')
    const refused = (await others).find((o) => o.status === 'rejected')
    if (refused) throw refused.reason
    const progress = newProgress(tables, started)
    const queue = [...tables]
    const results: TableResult[] = []
    await Promise.all(
      pairs.slice(0, Math.max(1, tables.length)).map(async (pair) => {
        for (let table = queue.shift(); table; table = queue.shift()) {
          inputs.signal?.throwIfAborted()
          results.push(await verifyTable(pair, table, options, inputs, progress))
          progress.tablesDone++
          inputs.onProgress?.({...progress, ...rates(progress, started)})
        }
      }),
    )
    phase('tables compared')
    return summarise(results, tables, started)
  } catch (error) {
    throw asUnreachable(error)
  } finally {
    await Promise.allSettled(pairs.flatMap((p) => [p.source.end(), p.replica.end()]))
  }
}

async function openPair(inputs: VerifyInputs): Promise<ServerPair> {
  const [source, replica] = await Promise.allSettled([connectTo('source', inputs.source), connectTo('replica', inputs.replica)])
  if (source.status === 'rejected' || replica.status === 'rejected') {
    for (const c of [source, replica]) if (c.status === 'fulfilled') await c.value.end().catch(() => {})
    throw source.status === 'rejected' ? source.reason : (replica as PromiseRejectedResult).reason
  }
  const pair = {source: source.value, replica: replica.value}
  try {
    // TIMESTAMP columns read as text in the session's time zone: the same on both sides. A DDL that
    // holds a table's metadata lock would otherwise keep a read waiting for lock_wait_timeout's year.
    // A server-wide max_statement_time would end a CHECKSUM TABLE of a large table half-way.
    const session = "SET SESSION time_zone = '+00:00', SESSION lock_wait_timeout = 60, SESSION max_statement_time = 0"
    await Promise.all([pair.source.query(session), pair.replica.query(session)])
  } catch (error) {
    await Promise.allSettled([pair.source.end(), pair.replica.end()])
    throw error
  }
  return pair
}

/** Walks the table chunk by chunk: the next bound is read on the source, then the chunk is compared. */
async function verifyTable(pair: ServerPair, planned: VerifyTable, options: CompareOptions, inputs: VerifyInputs, progress: VerifyProgress): Promise<TableResult> {
  let table = planned
  const result: TableResult = {table: tableLabel(table), rows: 0, chunks: 0, rechecks: 0, differences: [], differencesTotal: 0}
  const chunkRows = inputs.chunkRows ?? 10_000
  const [source, replica] =
    inputs.tableChecksum === false
      ? [null, null]
      : await Promise.all([
          tableChecksum(pair.source, table).finally(() => phase(`${quoteUntrusted(table.name)} CHECKSUM TABLE on the source`)),
          tableChecksum(pair.replica, table).finally(() => phase(`${quoteUntrusted(table.name)} CHECKSUM TABLE on the replica`)),
        ])
  if (source !== null && source === replica) {
    // Counting would cost half as much again as the checksum itself: InnoDB's estimate it is.
    progress.rowsDone += table.estimatedRows
    return {...result, rows: table.estimatedRows, rowsEstimated: true}
  }
  let lo: KeyValue | undefined
  for (;;) {
    inputs.signal?.throwIfAborted()
    const hi = table.key.length === 0 ? undefined : await nextBound(pair.source, table, lo, chunkRows)
    let outcome
    try {
      outcome = await compareChunk(pair, table, {lo, hi}, options)
    } catch (error) {
      // 1146: the table is not on the replica at all; 1054: it lacks a column the source has.
      const errno = (error as {errno?: number}).errno
      if (errno === 1146) return {...result, missingOnReplica: true}
      if (errno === 1054) return {...result, columnsDiffer: true}
      // 1267, 1270, 1271: the replica's text columns mix collations where the source's share one: the chunk again, every string as its bytes.
      if ((errno === 1267 || errno === 1270 || errno === 1271) && table.castText === false) {
        table = {...table, castText: true}
        continue
      }
      throw error
    }
    result.chunks++
    result.rows += outcome.rows
    result.rechecks += outcome.rechecks
    result.differencesTotal += outcome.differing.length
    for (const key of outcome.differing) {
      if (result.differences.length >= MAX_LISTED_DIFFERENCES) break
      result.differences.push(keyObject(table, key))
    }
    progress.rowsDone += outcome.rows
    inputs.onProgress?.({...progress, ...rates(progress, Date.parse(progress.startedAt))})
    if (!hi) return result
    lo = hi
  }
}

function keyObject(table: VerifyTable, key: KeyValue): Record<string, unknown> {
  if (table.key.length === 0) return {}
  const shown = displayKey(table.key, key)
  return Object.fromEntries(table.key.map((k, i) => [k.name, shown[i]]))
}

function newProgress(tables: VerifyTable[], started: number): VerifyProgress {
  return {
    tablesDone: 0,
    tablesTotal: tables.length,
    rowsDone: 0,
    rowsTotal: tables.reduce((n, t) => n + t.estimatedRows, 0),
    rowsPerSecond: 0,
    etaSeconds: null,
    startedAt: new Date(started).toISOString(),
  }
}

function rates(progress: VerifyProgress, started: number): Pick<VerifyProgress, 'rowsPerSecond' | 'etaSeconds'> {
  const seconds = Math.max(0.001, (Date.now() - started) / 1000)
  const rowsPerSecond = Math.round(progress.rowsDone / seconds)
  const left = Math.max(0, progress.rowsTotal - progress.rowsDone)
  return {rowsPerSecond, etaSeconds: rowsPerSecond > 0 ? Math.round(left / rowsPerSecond) : null}
}

function summarise(results: TableResult[], tables: VerifyTable[], started: number): VerifyResult {
  const order = new Map(tables.map((t, i) => [tableLabel(t), i]))
  results.sort((a, b) => a.table.localeCompare(b.table) || order.get(a.table)! - order.get(b.table)!)
  const differences = results.reduce((n, r) => n + r.differencesTotal + (r.missingOnReplica || r.columnsDiffer ? 1 : 0), 0)
  return {
    identical: differences === 0,
    exitCode: differences === 0 ? ExitCode.ok : ExitCode.failed,
    tablesCompared: results.length,
    rowsCompared: results.reduce((n, r) => n + r.rows, 0),
    differencesTotal: results.reduce((n, r) => n + r.differencesTotal, 0),
    tables: results,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    checkedAt: new Date().toISOString(),
  }
}

function asUnreachable(error: unknown): unknown {
  if (error instanceof DatainError || !connectionLost(error)) return error
  return new DatainError('A server closed its connection while datain was comparing tables, so the comparison did not finish. Check that both servers are up, then run it again.', {
    code: 'E_VERIFY_UNREACHABLE',
    exit: ExitCode.unreachable,
    cause: error,
  })
}
