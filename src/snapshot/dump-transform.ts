import {Transform, type TransformCallback} from 'node:stream'
import {DatainError, ExitCode} from '../lib/errors.js'
import {withLoadSqlMode} from './load-sql-mode.js'

/** The source's binary log coordinates of the snapshot, as mariadb-dump --master-data writes them. */
export interface DumpCoordinates {
  binlogFile?: string
  binlogPosition?: number
  /** `BINLOG_GTID_POS(file, pos)`, e.g. `0-1-42` or `0-1-42,1-2-7`; may be empty on a server that never wrote a GTID. */
  gtidPosition?: string
}

/** No statement or comment of a data-only dump, other than its INSERTs, is anywhere near this long. */
const MAX_GATHERED = 1024 * 1024
/** Bytes enough to tell an INSERT from the rest: `INSERT INTO \``. */
const CLASSIFY_BYTES = 13

const NL = 0x0a
const SEMICOLON = 0x3b
const BACKSLASH = 0x5c
const BACKTICK = 0x60
const QUOTES = new Set([0x27, 0x22, BACKTICK]) // ' " `
const OPEN = 0x28
const CLOSE = 0x29
const COMMA = 0x2c
const SLASH = 0x2f
const WHITE = new Set([0x20, 0x09, 0x0d, NL])

// The text is latin1 (one char per byte): a name is any run of bytes, backticks doubled.
const NAME = '`((?:[^`]|``)+)`'
/**
 * Every statement other than INSERT that mariadb-dump writes for a data-only dump
 * (--no-create-info --no-create-db --skip-routines --skip-events --skip-triggers --master-data=2).
 */
const DATA_ONLY_STATEMENTS: RegExp[] = [
  /^\/\*M!999999\\- enable the sandbox mode \*\/ ?$/,
  // Session settings saved, set and restored: /*!40101 SET NAMES utf8mb4 */; … never SET GLOBAL.
  /^\/\*M?!\d{5,6} SET (?!GLOBAL\b|@@GLOBAL\b)[^;]*\*\/;$/i,
  new RegExp(`^USE ${NAME};$`),
  new RegExp(`^LOCK TABLES ${NAME} WRITE;$`),
  /^UNLOCK TABLES;$/,
  new RegExp(`^/\\*!40000 ALTER TABLE ${NAME} (?:DISABLE|ENABLE) KEYS \\*/;$`),
]
const INSERT = /^INSERT INTO `/

const FILE_POSITION = /^--\s*CHANGE\s+MASTER\s+TO\s+MASTER_LOG_FILE\s*=\s*'((?:[^'\\]|\\.)*)'\s*,\s*MASTER_LOG_POS\s*=\s*(\d+)/i
const GTID_POSITION = /^--\s*SET\s+GLOBAL\s+gtid_slave_pos\s*=\s*'([^']*)'/i

/**
 * Reads a data-only mariadb-dump stream on its way into the replica, changing nothing in it but,
 * with `loadSqlMode`, its sql_mode: the snapshot's coordinates from the comments of
 * `--master-data=2 --gtid`, row tuples counted, the table being copied, and whether the dump ended
 * with its closing comment.
 *
 * It lets through only what such a dump holds: comments, INSERTs, and the few statements of
 * DATA_ONLY_STATEMENTS (session SETs, USE, LOCK/UNLOCK TABLES, ALTER TABLE … KEYS). Anything else
 * at the top level is refused (E_SNAPSHOT_UNEXPECTED) before the loader sees it: a dump of this
 * shape can only hold something else if mariadb-dump or the source misbehaves, and datain does not
 * run what it did not expect. Statements are split by a scanner that knows quotes and backticks, so
 * a name holding a newline or `;` is one statement. INSERTs stream through as they come, never
 * gathered; chunk boundaries may fall anywhere.
 */
export class DumpTransform extends Transform {
  readonly coordinates: DumpCoordinates = {}
  /** Bytes read from the dump. */
  bytes = 0
  /** Row tuples of the INSERTs seen so far. */
  rows = 0
  /** The table whose data is streaming by, as `db.table`, for progress. */
  table?: string
  /** Whether the dump's closing comment (`-- Dump completed`) went by. */
  completed = false
  /** Loads under LOAD_SQL_MODE: the one change made to the dump (see withLoadSqlMode). */
  loadSqlMode = false

  private database?: string
  // Between statements; in a comment line; gathering a statement; streaming an INSERT.
  private mode: 'between' | 'comment' | 'statement' | 'insert' = 'between'
  private pending: Buffer[] = []
  private pendingLength = 0
  // Quote-aware scanner state, across chunks, for statements and INSERTs alike.
  private quote = 0
  private escaped = false
  private depth = 0
  private lastSignificant = 0
  private classified = false
  private out: Buffer[] = []

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.bytes += chunk.length
      this.consume(chunk)
      this.flushOut()
      callback()
    } catch (error) {
      callback(error as Error)
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.mode === 'comment') this.endComment()
      // A dump cut short is reported as such (E_SNAPSHOT_TRUNCATED) by its caller; text after its end is not.
      else if (this.mode === 'statement' && this.completed) this.endStatement()
      this.flushOut()
      callback()
    } catch (error) {
      callback(error as Error)
    }
  }

  private consume(chunk: Buffer): void {
    let at = 0
    while (at < chunk.length) {
      if (this.mode === 'between') {
        const start = at
        while (at < chunk.length && WHITE.has(chunk[at]!)) at++
        this.emit_(chunk.subarray(start, at))
        if (at === chunk.length) return
        this.mode = chunk[at] === 0x2d ? 'comment' : 'statement'
        this.resetScanner()
        this.classified = false
      } else if (this.mode === 'comment') {
        const nl = chunk.indexOf(NL, at)
        const end = nl < 0 ? chunk.length : nl
        this.gather(chunk.subarray(at, end))
        at = end
        if (nl >= 0) this.endComment()
      } else if (this.mode === 'insert') {
        at = this.insertPart(chunk, at)
      } else {
        at = this.scanStatement(chunk, at)
      }
    }
  }

  /** Gathers a statement up to its end, or streams it once it shows itself an INSERT. */
  private scanStatement(chunk: Buffer, at: number): number {
    if (this.classified) return this.statementPart(chunk, at)
    const end = Math.min(chunk.length, at + CLASSIFY_BYTES - this.pendingLength)
    this.gather(chunk.subarray(at, end))
    if (this.pendingLength < CLASSIFY_BYTES && end === chunk.length) return end
    this.classified = true
    const head = this.takePending()
    if (INSERT.test(head.toString('latin1'))) this.mode = 'insert'
    const used = this.mode === 'insert' ? this.insertPart(head, 0) : this.statementPart(head, 0)
    // The statement may end within its first bytes: what follows them comes next.
    if (used < head.length) this.consume(head.subarray(used))
    return end
  }

  private statementPart(chunk: Buffer, at: number): number {
    const {end, ended} = this.scan(chunk, at, false)
    this.gather(chunk.subarray(at, end))
    if (ended) this.endStatement()
    return end
  }

  private insertPart(chunk: Buffer, at: number): number {
    const {end, ended} = this.scan(chunk, at, true)
    this.emit_(chunk.subarray(at, end))
    if (ended) this.mode = 'between'
    return end
  }

  /**
   * Scans from `at` for the end of the statement: a `;` outside quotes and parentheses (or, for
   * the sandbox-mode line, which has none, the end of its line). In an INSERT it counts row
   * tuples: a `(` at depth 0 right after `VALUES` or a `,`. Stops at the end of the chunk or just
   * past the statement's end.
   */
  private scan(chunk: Buffer, at: number, insert: boolean): {end: number; ended: boolean} {
    let i = at
    let {quote, escaped, depth, lastSignificant: last} = this
    let rows = 0
    let ended = false
    for (; i < chunk.length; i++) {
      const c = chunk[i]!
      if (quote !== 0) {
        if (escaped) escaped = false
        else if (c === BACKSLASH && quote !== BACKTICK) escaped = true
        else if (c === quote) {
          quote = 0
          last = c
        }
        continue
      }
      if (c === NL && !insert && depth === 0 && last === SLASH) {
        // `… */` and a newline without `;`: the sandbox-mode line, checked whole in endStatement.
        ended = true
        i++
        break
      }
      if (WHITE.has(c)) continue
      if (QUOTES.has(c)) quote = c
      else if (c === OPEN) {
        if (depth === 0 && (last === COMMA || last === 0x53 || last === 0x73)) rows++
        depth++
      } else if (c === CLOSE) depth = Math.max(0, depth - 1)
      else if (c === SEMICOLON && depth === 0) {
        ended = true
        i++
        break
      }
      last = c
    }
    this.quote = quote
    this.escaped = escaped
    this.depth = depth
    this.lastSignificant = last
    this.rows += rows
    return {end: i, ended}
  }

  private endStatement(): void {
    const statement = this.takePending()
    const text = statement.toString('latin1').trimEnd()
    this.mode = 'between'
    if (text === '') return
    if (!DATA_ONLY_STATEMENTS.some((form) => form.test(text))) this.refuse(text)
    const use = new RegExp(`^USE ${NAME};$`).exec(text)
    if (use) this.database = identifier(use[1]!)
    const lock = new RegExp(`^LOCK TABLES ${NAME} WRITE;$`).exec(text)
    if (lock) {
      this.table = this.database ? `${this.database}.${identifier(lock[1]!)}` : identifier(lock[1]!)
      // For progress (single-stream.ts): the table before is done, whatever the sampling missed.
      this.emit('table', this.table)
    }
    this.emit_((this.loadSqlMode && withLoadSqlMode(text)) || statement)
  }

  private endComment(): void {
    const line = this.takePending()
    this.mode = 'between'
    const text = line.toString('latin1')
    if (!/^--(?:[ \t\r]|$)/.test(text)) this.refuse(text)
    this.readCoordinates(text)
    if (text.startsWith('-- Dump completed')) this.completed = true
    this.emit_(line)
  }

  private refuse(text: string): never {
    const shown = Buffer.from(text.slice(0, 80), 'latin1').toString('utf8').replace(/\s+/g, ' ')
    throw new DatainError(
      `mariadb-dump wrote something a dump of rows does not hold (${JSON.stringify(shown)}${text.length > 80 ? '…' : ''}), so datain stopped the copy before the replica ran it. ` +
        "Check that the mariadb-dump datain runs is MariaDB's, of the source's version or later, then run datain start again.",
      {code: 'E_SNAPSHOT_UNEXPECTED', exit: ExitCode.failed},
    )
  }

  private readCoordinates(body: string): void {
    const file = FILE_POSITION.exec(body)
    if (file && this.coordinates.binlogFile === undefined) {
      const position = Number(file[2])
      if (!Number.isSafeInteger(position)) throw new Error(`binlog position out of range: ${file[2]}`)
      this.coordinates.binlogFile = Buffer.from(file[1]!.replace(/\\(.)/g, '$1'), 'latin1').toString('utf8')
      this.coordinates.binlogPosition = position
    }
    const gtid = GTID_POSITION.exec(body)
    if (gtid && this.coordinates.gtidPosition === undefined) this.coordinates.gtidPosition = gtid[1]!
  }

  private resetScanner(): void {
    this.quote = 0
    this.escaped = false
    this.depth = 0
    this.lastSignificant = 0
  }

  private gather(buffer: Buffer): void {
    if (buffer.length === 0) return
    this.pending.push(buffer)
    this.pendingLength += buffer.length
    if (this.pendingLength > MAX_GATHERED) this.refuse(Buffer.concat(this.pending).toString('latin1'))
  }

  private takePending(): Buffer {
    const gathered = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLength)
    this.pending = []
    this.pendingLength = 0
    return gathered
  }

  private emit_(buffer: Buffer): void {
    if (buffer.length > 0) this.out.push(buffer)
  }

  private flushOut(): void {
    if (this.out.length === 0) return
    // One push per input chunk: row lines are short, and a push per line would cost more than the copy.
    this.push(this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out))
    this.out = []
  }
}

/** A backtick-quoted name's text (latin1 → UTF-8, doubled backticks undone). */
function identifier(quoted: string): string {
  return Buffer.from(quoted.replaceAll('``', '`'), 'latin1').toString('utf8')
}
