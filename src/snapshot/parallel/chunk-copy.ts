import {Readable} from 'node:stream'
import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../../lib/errors.js'
import {STALL_TIMEOUT_ENV, StallWatchdog, stallTimeoutMs} from '../../lib/stall.js'
import {type Piece, PieceQueue, SourceReadError} from './piece-queue.js'
import {BufferPool, RowEncoder} from './row-encoder.js'

export interface ChunkCopyOptions {
  /** A connection inside the snapshot transaction. */
  source: Connection
  replica: Connection
  /** The SELECT of the chunk's rows, every column `CAST(… AS BINARY)`, and its bound values. */
  select: string
  values: unknown[]
  /** `LOAD DATA LOCAL INFILE '<name>' INTO TABLE …`: run once per batch. */
  load: string
  /**
   * Bytes sent to the replica by one LOAD DATA statement at most (a single row larger than that
   * goes alone). The connector gathers a local infile stream into one packet and writes it without
   * waiting for its socket to drain, so a batch is what may sit in memory on the way out; the next
   * batch is read meanwhile, up to as much again.
   */
  batchBytes: number
  /** Called as rows reach the replica (rows and bytes of this call only). */
  onLoaded?: (rows: number, bytes: number) => void
  /** Where the encoded rows go: one pool for all of a copy's chunks (see {@link piecePool}). */
  pool: BufferPool
  /** What the chunk is, for a stall's message: "the table shop.orders (part 2 of 4)". */
  label?: string
  /** No row from the source and none into the replica for this long fails the chunk (default: stallTimeoutMs). */
  stallMs?: number
}

export interface ChunkCopyResult {
  rows: number
  bytes: number
  statements: number
  /** Statements the replica rolled back (deadlock, lock wait timeout) and that were sent again. */
  retries: number
}

/** How much the encoder gathers before it hands a piece to the loader. */
const PIECE_BYTES = 64 * 1024
/** The encoder's buffers: a piece, and room for the row that takes it past PIECE_BYTES. */
const PIECE_BUFFER_BYTES = 96 * 1024

/** A pool for the pieces of `threads` chunks copied at once, each holding about two batches. */
export function piecePool(threads: number, batchBytes: number): BufferPool {
  return new BufferPool(PIECE_BUFFER_BYTES, threads * (Math.ceil((2 * batchBytes) / PIECE_BYTES) + 4))
}

/**
 * Copies the rows of one SELECT into one table: rows stream from the source (the connector pauses
 * the socket when they are not taken: backpressure), are encoded for LOAD DATA, and go to the
 * replica in statements of at most `batchBytes`, each a transaction of its own. While the replica
 * takes one batch the next is read: memory stays within about two batches whatever the size of
 * the table, in buffers used again (see BufferPool).
 *
 * Throws the first failure of either side; a LOAD DATA LOCAL that skipped or changed a row is a
 * failure too (with LOCAL the server turns errors into warnings: every warning is checked). A read
 * held by a lock on the source (a LOCK TABLES, a DDL's metadata lock: lock_wait_timeout is a day
 * by default) or a load held on the replica fails with E_SNAPSHOT_STALLED once neither side moved
 * for `stallMs`; both connections are destroyed then, as their statements still wait.
 */
export async function copyChunk(options: ChunkCopyOptions): Promise<ChunkCopyResult> {
  const pending = new PieceQueue(options.batchBytes)
  const encoder = new RowEncoder(options.pool)
  // On a connection the source dropped (a restart between two chunks) the connector's queryStream
  // throws a TypeError (it resumes a socket that is gone): say that it is the source's failure.
  if (!options.source.isValid()) throw new SourceReadError(new Error('the connection to the source was lost'))
  const rows = options.source.queryStream({sql: options.select, rowsAsArray: true}, options.values)
  let rowsRead = 0
  let rowsLoaded = 0
  const stall = stallGuard(options, () => rowsRead + rowsLoaded)

  const flush = () => {
    if (encoder.length > 0) pending.put(encoder.take())
  }
  const reading = new Promise<void>((resolve, reject) => {
    rows.on('data', (row: Array<Uint8Array | null>) => {
      rowsRead++
      encoder.push(row)
      if (encoder.length >= PIECE_BYTES) {
        flush()
        if (pending.full) {
          rows.pause()
          pending.onRoom = () => rows.resume()
        }
      }
    })
    rows.once('error', (error: unknown) => {
      pending.fail(error)
      reject(error)
    })
    rows.once('end', () => {
      flush()
      pending.end()
      resolve()
    })
  })
  reading.catch(() => {})

  const result: ChunkCopyResult = {rows: 0, bytes: 0, statements: 0, retries: 0}
  try {
    // At least one statement, even for no rows: it proves the table takes LOAD DATA.
    do {
      const batch = await stall.race(pending.next())
      const sent = {rows: 0, bytes: 0}
      for (const piece of batch) {
        sent.rows += piece.rows
        sent.bytes += piece.bytes.length
      }
      const loaded = await stall.race(
        loadBatch(options.replica, options.load, batch, () => {
          result.retries++
        }),
      )
      result.statements++
      if (loaded.warningStatus > 0 || Number(loaded.affectedRows) !== sent.rows) {
        const warnings = (await options.replica.query('SHOW WARNINGS LIMIT 5')) as Array<{Level: string; Code: number; Message: string}>
        throw new LoadRejectedError(sent.rows, Number(loaded.affectedRows), warnings.map((w) => `${w.Level} ${w.Code}: ${w.Message}`))
      }
      // The connector copied every piece into its own packets before the server answered.
      for (const piece of batch) piece.release()
      result.rows += sent.rows
      rowsLoaded += sent.rows
      result.bytes += sent.bytes
      options.onLoaded?.(sent.rows, sent.bytes)
    } while (!pending.drained)
    await stall.race(reading)
    encoder.close()
    return result
  } catch (error) {
    if (stall.error) throw stall.error
    // The source stream stops with its connection (which the caller ends): the snapshot is lost anyway.
    rows.removeAllListeners('data')
    // A replica failure while the source's connection is gone too, before its row stream said so:
    // the source's loss is what the user must hear of (the chunk is read again either way).
    if (!(error instanceof SourceReadError) && !options.source.isValid()) throw new SourceReadError(new Error('the connection to the source was lost'))
    throw error
  } finally {
    stall.stop()
  }
}

/**
 * The chunk's watchdog: `race(p)` settles as `p` does, or fails with the stall's DatainError first.
 * The statements still in flight are ended by destroying both connections, which also makes the
 * server drop their locks and snapshot.
 */
function stallGuard(options: ChunkCopyOptions, progress: () => number) {
  const ms = options.stallMs ?? stallTimeoutMs()
  let fire: (error: DatainError) => void = () => {}
  const stalled = new Promise<never>((_, reject) => (fire = reject))
  stalled.catch(() => {})
  const guard = {
    error: undefined as DatainError | undefined,
    race<T>(p: Promise<T>): Promise<T> {
      p.catch(() => {})
      return Promise.race([p, stalled])
    },
    stop: () => watchdog.stop(),
  }
  const watchdog = new StallWatchdog(ms, progress, () => {
    guard.error = new DatainError(
      `Copying ${options.label ?? 'a chunk of rows'} made no progress for ${ms / 1000} s: no row came from the source and none reached the replica, ` +
        `so datain stopped it. A lock usually does this (LOCK TABLES, a long ALTER, an open transaction on the replica): look at both servers' process lists, ` +
        `then run 'datain start' again (${STALL_TIMEOUT_ENV} sets the bound in seconds).`,
      {code: 'E_SNAPSHOT_STALLED', exit: ExitCode.failed},
    )
    options.source.destroy()
    options.replica.destroy()
    fire(guard.error)
  })
  return guard
}

/** Errors after which InnoDB has rolled the whole statement back, so that it may simply run again. */
const RETRYABLE = new Set([
  1213, // ER_LOCK_DEADLOCK: two loads into one table (different ranges) can meet on its AUTO-INC lock and a gap
  1205, // ER_LOCK_WAIT_TIMEOUT: without innodb_rollback_on_timeout only the statement goes, and it is the transaction here
])
const MAX_RETRIES = 5

/**
 * Runs one LOAD DATA of `batch`, whose rows are all read already: the statement's data goes out in
 * one go (the connector gathers it into one packet, then writes it). Each statement is a
 * transaction of its own (autocommit), so when the replica rolls it back for a deadlock or a lock
 * wait timeout nothing of it stayed: it is sent again, a bounded number of times with a growing
 * pause.
 */
async function loadBatch(replica: Connection, load: string, batch: Piece[], onRetry: () => void): Promise<LoadResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await replica.query({sql: load, infileStreamFactory: () => piecesStream(batch)})) as LoadResult
    } catch (error) {
      const errno = (error as {errno?: number})?.errno
      if (attempt >= MAX_RETRIES || errno === undefined || !RETRYABLE.has(errno) || !replica.isValid()) throw error
      onRetry()
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt + Math.random() * 50))
    }
  }
}

/** A stream of the pieces' bytes, all of them at its first read. */
function piecesStream(pieces: Piece[]): Readable {
  let done = false
  return new Readable({
    read() {
      if (done) return
      done = true
      for (const piece of pieces) this.push(piece.bytes)
      this.push(null)
    },
  })
}

interface LoadResult {
  affectedRows: number
  warningStatus: number
}

/** LOAD DATA LOCAL reported fewer rows than sent, or warnings: a row was skipped (a duplicate) or changed. */
export class LoadRejectedError extends Error {
  constructor(
    readonly sent: number,
    readonly loaded: number,
    readonly warnings: string[],
  ) {
    super(`the replica took ${loaded} of ${sent} rows${warnings.length > 0 ? `: ${warnings.join('; ')}` : ''}`)
  }
}
