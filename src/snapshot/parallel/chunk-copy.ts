import {Readable} from 'node:stream'
import type {Connection} from 'mariadb'
import {RowEncoder} from './row-encoder.js'

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

/**
 * Copies the rows of one SELECT into one table: rows stream from the source (the connector pauses
 * the socket when they are not taken: backpressure), are encoded for LOAD DATA, and go to the
 * replica in statements of at most `batchBytes`, each a transaction of its own. Memory stays
 * within about two batches whatever the size of the table.
 *
 * Throws the first failure of either side; a LOAD DATA LOCAL that skipped or changed a row is a
 * failure too (with LOCAL the server turns errors into warnings: every warning is checked).
 */
export async function copyChunk(options: ChunkCopyOptions): Promise<ChunkCopyResult> {
  // One batch read ahead while the replica takes the previous one: enough to keep both sides busy.
  const pending = new PieceQueue(options.batchBytes)
  const encoder = new RowEncoder(PIECE_BYTES * 2)
  // On a connection the source dropped (a restart between two chunks) the connector's queryStream
  // throws a TypeError (it resumes a socket that is gone): say that it is the source's failure.
  if (!options.source.isValid()) throw new SourceReadError(new Error('the connection to the source was lost'))
  const rows = options.source.queryStream({sql: options.select, rowsAsArray: true}, options.values)
  let sourceDone = false
  let sourceError: unknown

  const flush = () => {
    if (encoder.length === 0) return
    const {bytes, rows: n} = encoder.take()
    pending.put({bytes, rows: n})
  }
  const reading = new Promise<void>((resolve, reject) => {
    rows.on('data', (row: Array<Uint8Array | null>) => {
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
      sourceError = error
      pending.fail(error)
      reject(error)
    })
    rows.once('end', () => {
      flush()
      sourceDone = true
      pending.end()
      resolve()
    })
  })
  reading.catch(() => {})

  const result: ChunkCopyResult = {rows: 0, bytes: 0, statements: 0, retries: 0}
  try {
    // At least one statement, even for no rows: it proves the table takes LOAD DATA.
    do {
      const batch = pending.batch(options.batchBytes)
      const loaded = await loadBatch(options.replica, options.load, batch, () => {
        result.retries++
      })
      if (sourceError !== undefined) throw new SourceReadError(sourceError)
      const sent = batch.sent()
      result.statements++
      if (loaded.warningStatus > 0 || Number(loaded.affectedRows) !== sent.rows) {
        const warnings = (await options.replica.query('SHOW WARNINGS LIMIT 5')) as Array<{Level: string; Code: number; Message: string}>
        throw new LoadRejectedError(sent.rows, Number(loaded.affectedRows), warnings.map((w) => `${w.Level} ${w.Code}: ${w.Message}`))
      }
      result.rows += sent.rows
      result.bytes += sent.bytes
      options.onLoaded?.(sent.rows, sent.bytes)
    } while (!(sourceDone && pending.empty))
    await reading
    return result
  } catch (error) {
    // The source stream stops with its connection (which the caller ends): the snapshot is lost anyway.
    rows.removeAllListeners('data')
    if (sourceError !== undefined && !(error instanceof SourceReadError)) throw new SourceReadError(sourceError)
    // A source connection that died mid-chunk can fail the replica's LOAD DATA before its row stream
    // reports an error of its own: the failure is the source's, not a replica refusing rows.
    if (!(error instanceof SourceReadError) && !options.source.isValid()) throw new SourceReadError(new Error('the connection to the source was lost'))
    throw error
  }
}

/** Errors after which InnoDB has rolled the whole statement back, so that it may simply run again. */
const RETRYABLE = new Set([
  1213, // ER_LOCK_DEADLOCK: two loads into one table (different ranges) can meet on its AUTO-INC lock and a gap
  1205, // ER_LOCK_WAIT_TIMEOUT: without innodb_rollback_on_timeout only the statement goes, and it is the transaction here
])
const MAX_RETRIES = 5

/**
 * Runs one LOAD DATA of `batch`. Each statement is a transaction of its own (autocommit), so when
 * the replica rolls it back for a deadlock or a lock wait timeout nothing of it stayed: it is sent
 * again from the pieces the batch kept (at most `batchBytes`), a bounded number of times with a
 * growing pause.
 */
async function loadBatch(replica: Connection, load: string, batch: Batch, onRetry: () => void): Promise<LoadResult> {
  for (let attempt = 0; ; attempt++) {
    const stream = attempt === 0 ? batch.stream : batch.replay()
    try {
      return (await replica.query({sql: load, infileStreamFactory: () => stream})) as LoadResult
    } catch (error) {
      const errno = (error as {errno?: number})?.errno
      if (attempt >= MAX_RETRIES || errno === undefined || !RETRYABLE.has(errno) || !replica.isValid()) throw error
      onRetry()
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt + Math.random() * 50))
    }
  }
}

interface LoadResult {
  affectedRows: number
  warningStatus: number
}

/** The source failed while its rows were read (the replica's statement failed only because of it). */
export class SourceReadError extends Error {
  constructor(override readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause))
  }
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

interface Piece {
  bytes: Buffer
  rows: number
}

/** The data of one LOAD DATA statement. */
interface Batch {
  stream: Readable
  /** Rows and bytes handed out so far (all of the batch once its stream ended). */
  sent(): {rows: number; bytes: number}
  /** A new stream of the same data, from its first byte, for a statement sent again. */
  replay(): Readable
}

/**
 * Encoded pieces between the source's stream and the replica's statements. `batch(n)` makes the
 * stream one LOAD DATA reads: it takes pieces as they come until `n` bytes went out or the source
 * ended.
 */
class PieceQueue {
  private pieces: Piece[] = []
  private bytes = 0
  private ended = false
  private error: unknown
  /** Set by the reader when it paused because the queue was full. */
  onRoom?: () => void
  private wake?: () => void

  constructor(private readonly capacity: number) {}

  get full(): boolean {
    return this.bytes >= this.capacity
  }

  get empty(): boolean {
    return this.pieces.length === 0
  }

  put(piece: Piece): void {
    this.pieces.push(piece)
    this.bytes += piece.bytes.length
    this.wake?.()
  }

  end(): void {
    this.ended = true
    this.wake?.()
  }

  fail(error: unknown): void {
    this.error = error
    this.wake?.()
  }

  batch(limit: number): Batch {
    let rows = 0
    let bytes = 0
    let finished = false
    // Everything this batch handed out, so that it can be sent again (see loadBatch).
    const taken: Buffer[] = []
    const end = () => {
      finished = true
      stream.push(null)
    }
    const feed = (): void => {
      this.wake = undefined
      if (finished) return
      if (this.error !== undefined) {
        // End the statement's data instead of destroying the stream with the error: the caller sees the
        // source's error right after the statement returns, and the rows of an unfinished chunk are
        // never recorded as copied. An errored infile stream whose command the connector already
        // rejected (its connection destroyed on abort) crashes mariadb 3.5 (nextTick(null) in parser.js).
        return end()
      }
      const next = this.pieces[0]
      // A batch ends before the piece that would take it past its limit (unless it is the first).
      if (next && bytes > 0 && bytes + next.bytes.length > limit) return end()
      const piece = this.pieces.shift()
      if (piece) {
        this.bytes -= piece.bytes.length
        rows += piece.rows
        bytes += piece.bytes.length
        taken.push(piece.bytes)
        if (this.onRoom && !this.full) {
          const resume = this.onRoom
          this.onRoom = undefined
          resume()
        }
        stream.push(piece.bytes)
        if (bytes >= limit) end()
        return
      }
      if (this.ended) return end()
      // Nothing yet: push when the next piece (or the end) comes; read() is not called again until then.
      this.wake = feed
    }
    // The connector listens with 'data' and writes each chunk to its socket as it comes.
    let stream = new Readable({read: feed})
    return {
      stream,
      sent: () => ({rows, bytes}),
      replay: () => {
        // What went out already, then the rest of the batch as the first stream would have had it.
        let replayed = false
        stream = new Readable({
          read: () => {
            if (replayed) return feed()
            replayed = true
            if (taken.length > 0) stream.push(Buffer.concat(taken))
            if (finished) stream.push(null)
          },
        })
        return stream
      },
    }
  }
}
