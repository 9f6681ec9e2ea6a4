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
  private readonly specials = new SpecialBytes()
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
      at = escapeInto(out, at, value, 0, n)
    }
    out[at++] = NEWLINE
    this.position = at
    this.rows++
  }

  /**
   * Appends one row as the source sent it (a text-protocol row packet, `buf[start, end)`): for each
   * of `columns` values a length-encoded byte count and the bytes, or 0xfb alone for NULL. The
   * same output as push() of those values, without a Buffer or an array per row: a row whose
   * values are all under 251 bytes, none NULL, with no byte to escape (the usual row) is one copy,
   * its length bytes then overwritten with tabs. Throws MalformedRowError, having appended
   * nothing, when the bytes are not exactly `columns` values (a broken or hostile source).
   */
  pushPacket(buf: Buffer, start: number, end: number, columns: number): void {
    // Every value takes a byte at least: more columns than bytes is malformed (and bounds `need`).
    if (columns < 1 || columns > end - start) throw new MalformedRowError(`${columns} values in a row of ${end - start} bytes`)
    // A value's output is at most a separator and twice its bytes, or `\N` for NULL's one byte.
    this.reserve(2 * (end - start) + columns + 1)
    let p = start
    let values = 0
    while (values < columns && p < end && buf[p]! < 0xfb) {
      p += 1 + buf[p]!
      values++
    }
    if (values === columns && p === end && this.specials.from(buf, start) >= end) {
      const out = this.buffer
      const at = this.position - start - 1 // out[at + q] is the output of buf[q]
      out.set(buf.subarray(start + 1, end), this.position)
      for (let q = start + 1 + buf[start]!; q < end; q += 1 + buf[q]!) out[at + q] = TAB
      out[at + end] = NEWLINE
      this.position = at + end + 1
      this.rows++
      return
    }
    this.pushValues(buf, start, end, columns)
  }

  /** pushPacket's general case: value by value, with NULLs, long values and escapes. */
  private pushValues(buf: Buffer, start: number, end: number, columns: number): void {
    const out = this.buffer
    let at = this.position
    let p = start
    for (let i = 0; i < columns; i++) {
      if (i > 0) out[at++] = TAB
      if (p >= end) throw new MalformedRowError(`the row ends before its value ${i + 1} of ${columns}`)
      const first = buf[p]!
      if (first === 0xfb) {
        out[at++] = BACKSLASH
        out[at++] = 0x4e // N
        p++
        continue
      }
      const width = first < 0xfb ? 1 : first === 0xfc ? 3 : first === 0xfd ? 4 : first === 0xfe ? 9 : 0
      if (width === 0 || p + width > end) throw new MalformedRowError(`value ${i + 1} has no valid length`)
      // 8-byte lengths: a value past 2^32 bytes cannot be in a packet of this row anyway.
      const n = width === 1 ? first : width === 9 && buf.readUInt32LE(p + 5) !== 0 ? Infinity : buf.readUIntLE(p + 1, Math.min(width - 1, 4))
      p += width
      if (n > end - p) throw new MalformedRowError(`value ${i + 1} is longer than the rest of the row`)
      if (this.specials.from(buf, p) >= p + n) {
        out.set(buf.subarray(p, p + n), at)
        at += n
      } else {
        at = escapeInto(out, at, buf, p, p + n)
      }
      p += n
    }
    if (p !== end) throw new MalformedRowError(`${end - p} bytes follow the row's ${columns} values`)
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

/** Writes `from[start, end)` into `out` at `at`, the four special bytes escaped; returns where it ended. */
function escapeInto(out: Buffer, at: number, from: Uint8Array, start: number, end: number): number {
  for (let j = start; j < end; j++) {
    const c = from[j]!
    const escaped = ESCAPE[c]!
    if (escaped === 0) {
      out[at++] = c
    } else {
      out[at++] = BACKSLASH
      out[at++] = escaped
    }
  }
  return at
}

/** A row from the source that is not the values its columns say: the copy of its chunk fails. */
export class MalformedRowError extends Error {
  constructor(what: string) {
    super(`the source sent a malformed row (${what})`)
  }
}

const SPECIAL = [0x00, TAB, NEWLINE, BACKSLASH]

/**
 * Where the next byte to escape is in a buffer of rows, searched with the native indexOf once per
 * buffer and byte rather than for every row (bytes to escape are rare, and a search for one
 * that is absent would run to the buffer's end from every row). The positions hold while the
 * buffer's bytes do: the connector hands over the rows of one socket read in one synchronous run,
 * so they are forgotten at its end (a microtask), before anything could reuse the buffer.
 */
class SpecialBytes {
  private buf: Buffer | undefined
  private searchedFrom = 0
  /** Per special byte: its next position at or after searchedFrom, -1 if none, -2 not searched. */
  private readonly next = [-2, -2, -2, -2]

  /** The first position at or after `from` of a byte to escape in `buf`, or Infinity. */
  from(buf: Buffer, from: number): number {
    if (buf !== this.buf || from < this.searchedFrom) {
      if (buf !== this.buf) queueMicrotask(() => (this.buf = undefined))
      this.buf = buf
      this.next.fill(-2)
    }
    this.searchedFrom = from
    let first = Infinity
    for (let k = 0; k < 4; k++) {
      let at = this.next[k]!
      if (at === -2 || (at >= 0 && at < from)) this.next[k] = at = buf.indexOf(SPECIAL[k]!, from)
      if (at >= 0 && at < first) first = at
    }
    return first
  }
}

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
