import {constants} from 'node:fs'
import {type FileHandle, open, unlink} from 'node:fs/promises'
import {writeFileDurably} from '../lib/durable-write.js'
import {isMissing, stateReadError, stateWriteError} from './schema.js'

/** Beside the checkpoint in the profile's folder: the parallel copy's finished parts since the checkpoint last recorded them. */
export const CHECKPOINT_JOURNAL_FILE = 'checkpoint-journal.jsonl'

/**
 * A line longer than this is not read (no real entry comes near: a table's names, a hash and at
 * most 64 bounds); it is skipped without being held in memory, whatever its length.
 */
export const MAX_JOURNAL_LINE_BYTES = 16 * 1024

/** What the journal's first line says: the run it belongs to, named by the checkpoint, and the profile's servers. */
export interface JournalHeader {
  journal: string
  fingerprint: string
}

/**
 * An append-only journal of JSON lines that goes with the checkpoint, for what a step records too
 * often to rewrite the whole checkpoint each time (the parallel copy's finished chunks: rewriting a
 * record of thousands of tables after each grew with their square). Its first line is a
 * {@link JournalHeader}; the checkpoint names the same id, so that the journal of another run or
 * profile is never read as this one's. Appends are gathered while a write is under way and written
 * by the next one, with one fsync per batch: an entry is durable once {@link flush} has returned.
 * The step compacts the journal into the checkpoint when it ends, and removes it.
 */
export class CheckpointJournal {
  private pending: string[] = []
  private writing: Promise<void> | undefined
  private failure: {error: unknown} | undefined

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
  ) {}

  /** Starts the journal afresh with `header` (any earlier one is replaced, durably), open for appends. */
  static async create(file: string, header: JournalHeader): Promise<CheckpointJournal> {
    try {
      await writeFileDurably(file, `${JSON.stringify({journal: header.journal, fingerprint: header.fingerprint})}\n`)
      // O_NOFOLLOW: a link put in its place must not send the appends elsewhere.
      return new CheckpointJournal(file, await open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW))
    } catch (error) {
      throw stateWriteError(error, file)
    }
  }

  /** Queues one entry; it is written with the next batch. Throws when an earlier batch failed. */
  append(entry: object): void {
    if (this.failure) throw this.failure.error
    this.pending.push(`${JSON.stringify(entry)}\n`)
    this.writing ??= this.writeBatches()
  }

  /** Waits until every entry appended so far is written and synced; throws when a batch failed. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing
    if (this.failure) throw this.failure.error
  }

  /** Flushes, then closes the file (a write failure is thrown after the close). */
  async close(): Promise<void> {
    try {
      await this.flush()
    } finally {
      await this.handle.close().catch(() => {})
    }
  }

  private async writeBatches(): Promise<void> {
    try {
      while (this.pending.length > 0 && !this.failure) {
        const batch = this.pending.join('')
        this.pending = []
        // FileHandle.write may write less than asked (a filling disk): loop until every byte is out.
        const bytes = Buffer.from(batch, 'utf8')
        for (let written = 0; written < bytes.length; ) written += (await this.handle.write(bytes, written)).bytesWritten
        await this.handle.sync()
      }
    } catch (error) {
      this.failure = {error: stateWriteError(error, this.file)}
    } finally {
      this.writing = undefined
    }
  }
}

/**
 * Reads the entries of the journal at `file` whose header is `expected`, oldest first, calling
 * `onEntry` with each parsed line; returns how many it gave and how many lines it passed over. No
 * file, another header (another run, another profile) or no header: no entry. A line that is not
 * JSON (a torn last append, garbage) or longer than MAX_JOURNAL_LINE_BYTES is passed over; what the
 * entries mean, and whether one is acceptable, is the caller's to check. Read a piece at a time:
 * memory stays bounded whatever the file holds.
 */
export async function readCheckpointJournal(file: string, expected: JournalHeader, onEntry: (entry: unknown) => void): Promise<{entries: number; skipped: number}> {
  let handle: FileHandle
  try {
    // O_NONBLOCK: a FIFO in its place must not hang the start (it is refused below).
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (isMissing(error) || code === 'ELOOP') return {entries: 0, skipped: 0}
    throw stateReadError(error, file)
  }
  const counts = {entries: 0, skipped: 0}
  try {
    if (!(await handle.stat()).isFile()) return counts
    let header: boolean | undefined
    await eachLine(handle, (line) => {
      if (line === undefined) {
        counts.skipped++
        header ??= false
        return header
      }
      const value = parseLine(line)
      if (header === undefined) {
        const h = value as Partial<JournalHeader> | undefined
        header = h?.journal === expected.journal && h?.fingerprint === expected.fingerprint
        return header
      }
      if (value === undefined) counts.skipped++
      else {
        counts.entries++
        onEntry(value)
      }
      return true
    })
  } catch (error) {
    throw stateReadError(error, file)
  } finally {
    await handle.close()
  }
  return counts
}

/** Removes the journal; none there is fine. */
export async function removeCheckpointJournal(file: string): Promise<void> {
  await unlink(file).catch((error: unknown) => {
    if (!isMissing(error)) throw stateWriteError(error, file)
  })
}

function parseLine(line: string): unknown {
  if (line.trim() === '') return undefined
  try {
    return JSON.parse(line) as unknown
  } catch {
    return undefined
  }
}

/**
 * Calls `take` with each line of the file (`undefined` for one past MAX_JOURNAL_LINE_BYTES) until
 * it returns false. The last line counts only with its newline: without it, the append was torn.
 */
async function eachLine(handle: FileHandle, take: (line: string | undefined) => boolean): Promise<void> {
  const buffer = Buffer.alloc(64 * 1024)
  let parts: Buffer[] = []
  let length = 0
  let tooLong = false
  for (;;) {
    const {bytesRead} = await handle.read(buffer, 0, buffer.length, null)
    if (bytesRead === 0) return
    let start = 0
    for (let nl = buffer.indexOf(0x0a, start); start < bytesRead; nl = buffer.indexOf(0x0a, start)) {
      const end = nl === -1 || nl >= bytesRead ? bytesRead : nl
      if (!tooLong) {
        length += end - start
        if (length > MAX_JOURNAL_LINE_BYTES) {
          tooLong = true
          parts = []
        } else parts.push(Buffer.from(buffer.subarray(start, end)))
      }
      if (end === bytesRead) break
      const line = tooLong ? undefined : Buffer.concat(parts).toString('utf8')
      parts = []
      length = 0
      tooLong = false
      start = end + 1
      if (!take(line)) return
    }
  }
}
