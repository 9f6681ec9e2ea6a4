/**
 * Rows in the text format of `LOAD DATA … FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES
 * TERMINATED BY '\n'` (the statement's defaults): fields as their bytes, `\N` for NULL, and the
 * four bytes the reader would take for syntax escaped (`\\`, `\t`, `\n`, and NUL as `\0`).
 *
 * Works on the raw bytes the server sent (every column is selected `CAST(… AS BINARY)`), into
 * buffers of a {@link BufferPool}: no string, no per-value allocation, and no new buffer per piece,
 * so that Node's share of a copy stays small next to the servers'.
 */
export class RowEncoder {
  private buffer: Buffer
  private position = 0
  /** Rows encoded since the last take(). */
  rows = 0

  constructor(private readonly pool: BufferPool) {
    this.buffer = pool.get()
  }

  /** Bytes waiting to be taken. */
  get length(): number {
    return this.position
  }

  /** Appends one row: `values[i]` is column i's bytes, or null. */
  push(values: ReadonlyArray<Uint8Array | null>): void {
    let need = values.length + 1
    for (const value of values) need += value === null ? 2 : value.length * 2
    this.reserve(need)
    const out = this.buffer
    let at = this.position
    for (let i = 0; i < values.length; i++) {
      if (i > 0) out[at++] = TAB
      const value = values[i]!
      if (value === null) {
        out[at++] = BACKSLASH
        out[at++] = 0x4e // N
        continue
      }
      const n = value.length
      if (n > 32 && !needsEscape(value)) {
        out.set(value, at)
        at += n
        continue
      }
      for (let j = 0; j < n; j++) {
        const c = value[j]!
        const escaped = ESCAPE[c]!
        if (escaped === 0) {
          out[at++] = c
        } else {
          out[at++] = BACKSLASH
          out[at++] = escaped
        }
      }
    }
    out[at++] = NEWLINE
    this.position = at
    this.rows++
  }

  /**
   * The bytes encoded so far and their row count; the encoder goes on in a new buffer. The bytes
   * are a view of the encoder's buffer, which now belongs to the caller: `release()` hands it back
   * to the pool once nothing reads the bytes any more (never twice).
   */
  take(): {bytes: Buffer; rows: number; release: () => void} {
    const buffer = this.buffer
    const taken = {bytes: buffer.subarray(0, this.position), rows: this.rows, release: () => this.pool.release(buffer)}
    this.buffer = this.pool.get()
    this.position = 0
    this.rows = 0
    return taken
  }

  /** Gives the encoder's buffer back to the pool: the encoder is not used after. */
  close(): void {
    this.pool.release(this.buffer)
    // Nothing may write into a buffer the pool hands out again.
    this.buffer = Buffer.alloc(0)
    this.position = 0
    this.rows = 0
  }

  private reserve(need: number): void {
    if (this.position + need <= this.buffer.length) return
    // A row larger than the pool's buffers: a buffer of its own, which the pool will not take back.
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.position + need))
    this.buffer.copy(grown, 0, 0, this.position)
    this.buffer = grown
  }
}

const TAB = 0x09
const NEWLINE = 0x0a
const BACKSLASH = 0x5c

/** For each byte, the letter that follows the backslash when it must be escaped; 0 when it goes as it is. */
const ESCAPE = new Uint8Array(256)
ESCAPE[0x00] = 0x30 // \0
ESCAPE[TAB] = 0x74 // \t
ESCAPE[NEWLINE] = 0x6e // \n
ESCAPE[BACKSLASH] = BACKSLASH

function needsEscape(value: Uint8Array): boolean {
  return value.indexOf(BACKSLASH) >= 0 || value.indexOf(TAB) >= 0 || value.indexOf(NEWLINE) >= 0 || value.indexOf(0) >= 0
}

/**
 * Buffers of one size, used again and again. A copy moves every byte of the databases through
 * these, and a piece waits for the replica long enough to reach V8's old generation: made anew
 * for each piece, every one would stay there as garbage until a full collection. Taken back, the
 * same few serve the whole copy.
 */
export class BufferPool {
  private readonly free: Buffer[] = []

  /** `keep`: how many free buffers to hold at most (more are left to the garbage collector). */
  constructor(
    readonly size: number,
    private readonly keep = 64,
  ) {}

  get(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.size)
  }

  /** Takes `buffer` back (one that get() returned, whole); others, or beyond `keep`, are dropped. */
  release(buffer: Buffer): void {
    if (buffer.length !== this.size || this.free.length >= this.keep) return
    // Handing one buffer to two users would mix their rows: a second release is a bug, loudly.
    if (this.free.includes(buffer)) throw new Error('BufferPool: a buffer was released twice')
    this.free.push(buffer)
  }
}
