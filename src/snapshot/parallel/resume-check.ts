import type {Connection} from 'mariadb'
import {quoteQualified} from '../../lib/sql.js'
import {chunkError} from './copy-errors.js'
import type {WorkItem} from './copy-plan.js'
import type {CopyRecorder} from './copy-recorder.js'
import {chunkChecksum, chunkWhere} from './tables.js'
import type {WorkerPool} from './worker-pool.js'

/*
 * A resume in three phases, so that no DELETE runs beside a LOAD (their locks would meet): what an
 * earlier run finished is checked first, read-only on both sides (checkFinished); then what
 * differs, or was left half loaded, is emptied (emptyForReload); then the rows move (the copy).
 */

/**
 * Compares each chunk an earlier run finished with this snapshot (checksums on both sides): one
 * that matches is kept and recorded done, one that differs becomes a reload. Returns every chunk
 * still to load.
 */
export async function checkFinished(
  pool: WorkerPool,
  connections: {sources: Connection[]; replicas: Connection[]},
  work: WorkItem[],
  recorder: CopyRecorder,
): Promise<WorkItem[]> {
  const toLoad = work.filter((item) => item.mode !== 'verify')
  await pool.run(
    work.filter((item) => item.mode === 'verify'),
    async (item, i) => {
      const {sql, values} = chunkChecksum(item.chunk)
      type Sum = Array<{n: unknown; a: string; b: string}>
      const [[mine], [theirs]] = (await Promise.all([connections.sources[i]!.query(sql, values), connections.replicas[i]!.query(sql, values)])) as [Sum, Sum]
      if (String(mine!.n) === String(theirs!.n) && mine!.a === theirs!.a && mine!.b === theirs!.b) {
        recorder.kept(Number(mine!.n), item)
        recorder.done(item)
      } else {
        toLoad.push({...item, mode: 'reload'})
      }
    },
  )
  return toLoad
}

/** Empties the replica's range of every chunk to reload (no cascade: foreign key checks are off), one at a time. */
export async function emptyForReload(ddl: Connection, items: WorkItem[], recorder: CopyRecorder): Promise<void> {
  for (const item of items) {
    if (item.mode !== 'reload') continue
    const {where, values} = chunkWhere(item.chunk)
    await ddl.query(`DELETE FROM ${quoteQualified(item.chunk.table.database, item.chunk.table.name)}${where}`, values).catch((error: unknown) => {
      throw chunkError(item.chunk, error)
    })
    recorder.reloadedChunks++
  }
}
