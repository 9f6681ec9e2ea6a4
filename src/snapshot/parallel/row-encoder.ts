/**
 * Rows in the text format of `LOAD DATA … FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES
 * TERMINATED BY '\n'` (the statement's defaults): fields as their bytes, `\N` for NULL, and the
 * four bytes the reader would take for syntax escaped (`\\`, `\t`, `\n`, and NUL as `\0`).
 *
 * Works on the raw bytes the server sent (every column is selected `CAST(… AS BINARY)`), into one
 * growing buffer that the caller takes with {@link RowEncoder.take}: no string, no per-value
 * allocation, so that Node's share of a copy stays small next to the servers'.
 */
export class RowEncoder {
  private buffer: Buffer
  private position = 0
  /** Rows encoded since the last take(). */
  rows = 0

  constructor(private readonly initialSize = 256 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialSize)
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

  /** The bytes encoded so far (a copy the caller owns) and their row count; the encoder starts empty. */
  take(): {bytes: Buffer; rows: number} {
    const bytes = Buffer.from(this.buffer.subarray(0, this.position))
    const rows = this.rows
    this.position = 0
    this.rows = 0
    // A row far larger than usual grew the buffer: give the memory back.
    if (this.buffer.length > 4 * this.initialSize) this.buffer = Buffer.allocUnsafe(this.initialSize)
    return {bytes, rows}
  }

  private reserve(need: number): void {
    if (this.position + need <= this.buffer.length) return
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
