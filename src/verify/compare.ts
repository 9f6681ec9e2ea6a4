import type {Connection} from 'mariadb'
import type {ReplicationMode} from '../replication/slave-status.js'
import {type KeyRange, readChecksum, readRowHashes, sameChecksum, type VerifyTable} from './checksum.js'
import type {KeyValue} from './keys.js'
import {atSourcePoint, waitForReplica} from './position.js'

/** One connection to each server, used by one worker at a time. */
export interface ServerPair {
  source: Connection
  replica: Connection
}

export interface CompareOptions {
  mode: ReplicationMode
  /** How many times a chunk that differs is checked again at a source position the replica has executed. */
  rechecks: number
  /** Seconds a recheck waits for the replica to execute the source's position. */
  waitTimeout: number
}

export interface ChunkOutcome {
  /** Rows of the chunk on the source (at its last read). */
  rows: number
  /** How many times it was read again after differing. */
  rechecks: number
  /** The keys of the rows that differed every time (changed, missing or extra on the replica). */
  differing: KeyValue[]
}

/**
 * Compares one chunk. The first reads run on both servers at once, at whatever point each one is:
 * equal, the chunk is done. Else the source is read again in a snapshot whose binlog point the
 * replica must execute before its own read, so that only writes that came after that point (a
 * steady load's) can still tell them apart, and those rarely hit the same chunk again and again.
 * What still differs is narrowed to rows, and a row is reported only when it differed in every one
 * of those rounds: a row the load keeps changing could differ once by timing, never every time.
 */
export async function compareChunk(pair: ServerPair, table: VerifyTable, range: KeyRange, options: CompareOptions): Promise<ChunkOutcome> {
  const [first, firstReplica] = await Promise.all([readChecksum(pair.source, table, range), readChecksum(pair.replica, table, range)])
  if (sameChecksum(first, firstReplica)) return {rows: first.rows, rechecks: 0, differing: []}
  let rows = first.rows
  for (let attempt = 1; attempt <= options.rechecks; attempt++) {
    const {value: source, point} = await atSourcePoint(pair.source, options.mode, () => readChecksum(pair.source, table, range))
    await waitForReplica(pair.replica, options.mode, point, options.waitTimeout)
    const replica = await readChecksum(pair.replica, table, range)
    rows = source.rows
    if (sameChecksum(source, replica)) return {rows, rechecks: attempt, differing: []}
  }
  return {rows, rechecks: options.rechecks, differing: await differingRows(pair, table, range, options)}
}

/** The rows that differ in each of `max(2, rechecks)` rounds, each at a source position the replica has executed. */
async function differingRows(pair: ServerPair, table: VerifyTable, range: KeyRange, options: CompareOptions): Promise<KeyValue[]> {
  if (table.key.length === 0) return [[]]
  let candidates: Set<string> | undefined
  for (let round = 0; round < Math.max(2, options.rechecks); round++) {
    const {value: source, point} = await atSourcePoint(pair.source, options.mode, () => readRowHashes(pair.source, table, range))
    await waitForReplica(pair.replica, options.mode, point, options.waitTimeout)
    const replica = await readRowHashes(pair.replica, table, range)
    const differ = new Set<string>()
    for (const [key, hash] of source) if (replica.get(key) !== hash) differ.add(key)
    for (const key of replica.keys()) if (!source.has(key)) differ.add(key)
    candidates = candidates ? new Set([...candidates].filter((k) => differ.has(k))) : differ
    if (candidates.size === 0) return []
  }
  return [...candidates!].sort().map((k) => JSON.parse(k) as KeyValue)
}
