import {interruptedError} from '../../lib/client-tool-errors.js'
import {DatainError, ExitCode, isDatainError} from '../../lib/errors.js'
import {LoadRejectedError} from './chunk-copy.js'
import {SourceReadError} from './piece-queue.js'
import {type Chunk, tableLabel} from './tables.js'

/** "shop.orders (part 2 of 4)": the chunk as the user's messages name it. */
export function chunkName(chunk: Chunk): string {
  return `${tableLabel(chunk.table)}${chunk.count > 1 ? ` (part ${chunk.index + 1} of ${chunk.count})` : ''}`
}

/** The DatainError of a chunk that failed, naming it and the side that failed. */
export function chunkError(chunk: Chunk, error: unknown): unknown {
  if (isDatainError(error)) return error
  const where = chunkName(chunk)
  if (error instanceof SourceReadError) {
    const cause = error.cause as {errno?: number; sqlMessage?: string; message?: string}
    const ddl = cause?.errno === 1412 ? ' The table was changed (DDL) after the snapshot began: do not change tables while datain copies them.' : ''
    return new DatainError(`Reading the rows of ${where} from the source failed: ${cause?.sqlMessage ?? cause?.message ?? String(cause)}.${ddl} Run 'datain start' again.`, {
      code: 'E_SNAPSHOT_DUMP',
      exit: ExitCode.failed,
      cause,
    })
  }
  if (error instanceof LoadRejectedError) {
    return new DatainError(`The replica did not take every row of ${where}: ${error.message}. Nothing was linked; run 'datain start' again once the cause is fixed.`, {
      code: 'E_SNAPSHOT_LOAD',
      exit: ExitCode.failed,
      cause: error,
    })
  }
  const e = error as {errno?: number; sqlMessage?: string; message?: string}
  const infile =
    e?.errno === 1148 || e?.errno === 4166 || e?.errno === 3948
      ? " The replica refuses LOAD DATA LOCAL (its server parameter local_infile is OFF): turn it ON, or run 'datain start --parallel 1' for the single-stream copy (mariadb-dump piped into mariadb)."
      : ''
  return new DatainError(`Loading the rows of ${where} into the replica failed: ${e?.sqlMessage ?? e?.message ?? String(error)}.${infile}`, {
    code: 'E_SNAPSHOT_LOAD',
    exit: ExitCode.failed,
    cause: error,
  })
}

/** What a failed copy throws: E_INTERRUPTED after an abort, else the first failure, as a DatainError. */
export function copyError(first: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return interruptedError()
  if (isDatainError(first)) return first
  return new DatainError(`The copy failed: ${(first as {sqlMessage?: string})?.sqlMessage ?? (first as Error)?.message ?? String(first)}. Run 'datain start' again.`, {
    code: 'E_SNAPSHOT_COPY',
    exit: ExitCode.failed,
    cause: first,
  })
}
