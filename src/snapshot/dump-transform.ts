import {Transform, type TransformCallback} from 'node:stream'

/** The source's binary log coordinates of the snapshot, as mariadb-dump --master-data writes them. */
export interface DumpCoordinates {
  binlogFile?: string
  binlogPosition?: number
  /** `BINLOG_GTID_POS(file, pos)`, e.g. `0-1-42` or `0-1-42,1-2-7`; may be empty on a server that never wrote a GTID. */
  gtidPosition?: string
}

/** What the transform changed, counted. */
export interface DumpRewrites {
  /** DEFINER clauses removed (routines, views, triggers, events). */
  definers: number
  /** Statements that need SUPER, removed (live CHANGE MASTER, SET GLOBAL…, SQL_LOG_BIN…). */
  superStatements: number
  /** Events made `DISABLE ON SLAVE`. */
  eventsDisabledOnSlave: number
}

/** Lines longer than this that the transform would buffer are passed through unchanged instead. */
const MAX_BUFFERED_LINE = 16 * 1024 * 1024
/** Bytes enough to tell a data line (`INSERT INTO`, `REPLACE INTO`) from the rest. */
const CLASSIFY_BYTES = 16

const NL = 0x0a
const SEMICOLON = 0x3b
const BACKSLASH = 0x5c
const QUOTES = new Set([0x27, 0x22, 0x60]) // ' " `
const OPEN = 0x28
const CLOSE = 0x29
const COMMA = 0x2c

// Accounts as mariadb-dump and MySQL's mysqldump write them: `user`@`host` with doubled backticks,
// 'user'@'host', bare words, a role without host, CURRENT_USER. The text is latin1 (one char per
// byte), so a UTF-8 name is a run of \x80-\xff chars.
const PART = String.raw`(?:\`(?:[^\`]|\`\`)*\`|'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|[\w$.%\x80-\xff-]+)`
const DEFINER = String.raw`DEFINER\s*=\s*(?:CURRENT_USER(?:\s*\(\s*\))?|${PART}(?:\s*@\s*${PART})?)`

const DEFINER_FORMS: RegExp[] = [
  // Routines (and views in SHOW CREATE form): CREATE DEFINER=`u`@`h` FUNCTION …
  new RegExp(String.raw`^(CREATE\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?)${DEFINER}\s+`, 'i'),
  // Views: /*!50013 DEFINER=`u`@`h` SQL SECURITY DEFINER */
  new RegExp(String.raw`^(\/\*!\d+\s+)${DEFINER}\s+(?=SQL\s+SECURITY\b)`, 'i'),
  // Triggers and events: /*!50003 CREATE*/ /*!50017 DEFINER=`u`@`h`*/ /*!50003 TRIGGER …, /*!50106 CREATE*/ /*!50117 DEFINER=…*/ /*!50106 EVENT …
  new RegExp(String.raw`^(\/\*!\d+\s+CREATE\s*\*\/\s*)\/\*!\d+\s+${DEFINER}\s*\*\/\s*`, 'i'),
]

const IDENT = String.raw`(?:\`(?:[^\`]|\`\`)*\`|[\w$\x80-\xff]+)`
const EVENT_HEAD = new RegExp(String.raw`^(?:\/\*!\d+\s+CREATE\s*\*\/\s*\/\*!\d+\s+|CREATE\s+)EVENT\s+(?:IF\s+NOT\s+EXISTS\s+)?${IDENT}(?:\s*\.\s*${IDENT})?`, 'i')
const EVENT_ENABLED = /\bON\s+COMPLETION\s+(NOT\s+)?PRESERVE\s+ENABLE\b/i

// Statements a server admin without SUPER cannot run (1227 on Azure), in plain or /*!NNNNN …*/ form.
const NEEDS_SUPER =
  /^(?:\/\*!\d*\s*)?(?:SET\s+(?:GLOBAL\s|@@GLOBAL\.)|SET\s+(?:SESSION\s+|@@SESSION\.|@@)?SQL_LOG_BIN\s*=|CHANGE\s+MASTER\b|(?:START|STOP|RESET)\s+(?:ALL\s+)?(?:SLAVES?|REPLICAS?|MASTER)\b)/i

const FILE_POSITION = /^(?:--\s*)?CHANGE\s+MASTER\s+TO\s+MASTER_LOG_FILE\s*=\s*'((?:[^'\\]|\\.)*)'\s*,\s*MASTER_LOG_POS\s*=\s*(\d+)/i
const GTID_POSITION = /^(?:--\s*)?SET\s+GLOBAL\s+gtid_slave_pos\s*=\s*'([^']*)'/i
const DELIMITER = /^DELIMITER\s+(\S+)/i
const DATA_LINE = /^(?:INSERT|REPLACE)\s/i
const DUMPING_DATA = /^-- Dumping data for table `((?:[^`]|``)*)`/
const CURRENT_DATABASE = /^(?:-- Current Database: |USE )`((?:[^`]|``)*)`/

/**
 * Rewrites mariadb-dump's output on the fly for a replica whose admin has no SUPER (Azure Database
 * for MariaDB), and reads the snapshot's coordinates out of it:
 *
 * - the binlog file/position and GTID of `--master-data=2 --gtid`, from their comments;
 * - DEFINER clauses removed wherever mariadb-dump writes them, so the replica's admin becomes the
 *   definer (error 1227 otherwise);
 * - statements that need SUPER dropped (`SET GLOBAL …`, `SET @@GLOBAL.GTID_PURGED`, `SQL_LOG_BIN`,
 *   a live `CHANGE MASTER`, `START/STOP SLAVE`), also over several lines;
 * - events made `DISABLE ON SLAVE`, so that they run on the source only and reach the replica
 *   through replication.
 *
 * Works on bytes, line by line: a line that may need rewriting is gathered whole (they are short:
 * DDL, comments, SET), decoded as latin1 so any byte survives, and re-encoded only when changed.
 * Data (`INSERT …` up to its `;`, over any number of lines) streams through as it comes, never
 * gathered, while a small quote-aware scanner counts its row tuples. Chunk boundaries may fall
 * anywhere, inside a line, a DEFINER or a UTF-8 character.
 */
export class DumpTransform extends Transform {
  readonly coordinates: DumpCoordinates = {}
  readonly rewrites: DumpRewrites = {definers: 0, superStatements: 0, eventsDisabledOnSlave: 0}
  /** Bytes read from the dump. */
  bytes = 0
  /** Row tuples of the INSERTs seen so far. */
  rows = 0
  /** The table whose data is streaming by, as `db.table`, for progress. */
  table?: string
  /** Whether the dump's closing comment (`-- Dump completed`) went by. */
  completed = false

  private database?: string
  private delimiter = ';'
  // The current line: undecided (its head gathered until it can be classified), gathered whole, or streamed.
  private mode: 'start' | 'gather' | 'stream' | 'raw' = 'start'
  private pending: Buffer[] = []
  private pendingLength = 0
  // Inside a statement that is being dropped, until the line that ends it.
  private dropping = false
  // Whether the next line begins a statement (and not the body of one).
  private atStatementStart = true
  // Data scanner state, across lines and chunks.
  private quote = 0
  private escaped = false
  private depth = 0
  private lastSignificant = 0
  private statementEnded = false
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
      if (this.pendingLength > 0) {
        // A last line without a newline.
        const line = this.takePending()
        if (this.mode === 'gather' || this.mode === 'start') this.processLine(line)
        else this.emit_(line)
      }
      this.flushOut()
      callback()
    } catch (error) {
      callback(error as Error)
    }
  }

  private consume(chunk: Buffer): void {
    let at = 0
    while (at < chunk.length) {
      if (this.mode === 'stream') {
        at = this.scanData(chunk, at)
        continue
      }
      if (this.mode === 'raw') {
        const nl = chunk.indexOf(NL, at)
        const end = nl < 0 ? chunk.length : nl + 1
        this.emit_(chunk.subarray(at, end))
        if (nl >= 0) this.mode = 'start'
        at = end
        continue
      }
      const nl = chunk.indexOf(NL, at)
      const end = nl < 0 ? chunk.length : nl + 1
      this.pending.push(chunk.subarray(at, end))
      this.pendingLength += end - at
      at = end
      if (this.mode === 'start') {
        if (this.pendingLength < CLASSIFY_BYTES && nl < 0) continue
        const head = Buffer.concat(this.pending, Math.min(this.pendingLength, CLASSIFY_BYTES)).toString('latin1')
        if (this.atStatementStart && !this.dropping && this.delimiter === ';' && DATA_LINE.test(head)) {
          // Data: scan what was gathered, then stream the rest of the statement.
          this.mode = 'stream'
          this.resetScanner()
          const gathered = this.takePending()
          const used = this.scanData(gathered, 0)
          // The statement may end within the gathered bytes, the line too: go on with what follows.
          if (used < gathered.length) this.consume(gathered.subarray(used))
          continue
        }
        this.mode = 'gather'
      }
      if (nl >= 0) {
        this.mode = 'start'
        this.processLine(this.takePending())
      } else if (this.pendingLength > MAX_BUFFERED_LINE) {
        // Nothing datain rewrites is this long: let it through as it is.
        this.emit_(this.takePending())
        this.mode = 'raw'
      }
    }
  }

  /**
   * Passes data through from `at`, counting row tuples: a `(` at depth 0, outside quotes, right after
   * `VALUES` or a `,`. Returns where it stopped: the end of the chunk, or just past the newline that
   * ends the line holding the statement's final `;` (then the next line is classified afresh).
   */
  private scanData(chunk: Buffer, at: number): number {
    let i = at
    const n = chunk.length
    let quote = this.quote
    let escaped = this.escaped
    let depth = this.depth
    let last = this.lastSignificant
    let ended = this.statementEnded
    let rows = 0
    for (; i < n; i++) {
      const c = chunk[i]!
      if (quote !== 0) {
        if (escaped) escaped = false
        else if (c === BACKSLASH && quote !== 0x60) escaped = true
        else if (c === quote) {
          quote = 0
          last = c
        }
        continue
      }
      if (c === NL) {
        if (ended) {
          i++
          this.mode = 'start'
          this.atStatementStart = true
          break
        }
        continue
      }
      if (c === 0x20 || c === 0x09 || c === 0x0d) continue
      if (QUOTES.has(c)) quote = c
      else if (c === OPEN) {
        if (depth === 0 && (last === COMMA || last === 0x53 || last === 0x73)) rows++
        depth++
      } else if (c === CLOSE) depth = Math.max(0, depth - 1)
      else if (c === SEMICOLON && depth === 0) ended = true
      last = c
    }
    this.quote = quote
    this.escaped = escaped
    this.depth = depth
    this.lastSignificant = last
    this.statementEnded = ended
    this.rows += rows
    this.emit_(chunk.subarray(at, i))
    return i
  }

  private resetScanner(): void {
    this.quote = 0
    this.escaped = false
    this.depth = 0
    this.lastSignificant = 0
    this.statementEnded = false
  }

  /** One whole line that is not data. */
  private processLine(line: Buffer): void {
    const text = line.toString('latin1')
    const body = text.replace(/\r?\n$/, '')
    const ending = text.slice(body.length)

    if (this.dropping) {
      this.dropping = !this.endsStatement(body)
      this.atStatementStart = !this.dropping
      this.emit_(Buffer.from(`-- datain: removed (needs SUPER): …${ending}`, 'latin1'))
      return
    }
    // Blank lines and comments between statements change nothing; inside a routine, trigger or
    // event body (after its first line) every line is the user's text, left as it is.
    if (body.trim() === '' || body.startsWith('--')) {
      if (this.atStatementStart && body.startsWith('--')) this.readComment(body)
      this.emit_(line)
      return
    }
    if (!this.atStatementStart) {
      this.atStatementStart = this.endsStatement(body)
      // A view's DEFINER has a line of its own, the second of its CREATE (always at top level).
      const rewritten = this.delimiter === ';' && body.startsWith('/*!') ? this.rewriteCreate(body) : body
      this.emit_(rewritten === body ? line : Buffer.from(rewritten + ending, 'latin1'))
      return
    }

    const delimiter = DELIMITER.exec(body)
    if (delimiter) {
      this.delimiter = delimiter[1]!
      this.emit_(line)
      return
    }
    this.atStatementStart = this.endsStatement(body)
    const database = CURRENT_DATABASE.exec(body)
    if (database) this.database = identifier(database[1]!)

    if (NEEDS_SUPER.test(body)) {
      this.readCoordinates(body)
      this.rewrites.superStatements++
      this.dropping = !this.atStatementStart
      this.emit_(Buffer.from(`-- datain: removed (needs SUPER): ${body.slice(0, 60).replaceAll('*/', '* /')}${body.length > 60 ? '…' : ''}${ending}`, 'latin1'))
      return
    }
    if (/^(?:CREATE|\/\*!)/i.test(body)) {
      const rewritten = this.rewriteCreate(body)
      if (rewritten !== body) {
        this.emit_(Buffer.from(rewritten + ending, 'latin1'))
        return
      }
    }
    this.emit_(line)
  }

  private rewriteCreate(body: string): string {
    let text = body
    for (const form of DEFINER_FORMS) {
      const next = text.replace(form, '$1')
      if (next !== text) {
        this.rewrites.definers++
        text = next
        break
      }
    }
    const head = EVENT_HEAD.exec(text)
    if (head) {
      const rest = text.slice(head[0].length)
      const disabled = rest.replace(EVENT_ENABLED, (_m, not: string | undefined) => `ON COMPLETION ${not ? 'NOT ' : ''}PRESERVE DISABLE ON SLAVE`)
      if (disabled !== rest) {
        this.rewrites.eventsDisabledOnSlave++
        text = head[0] + disabled
      }
    }
    return text
  }

  private readComment(body: string): void {
    this.readCoordinates(body)
    const database = CURRENT_DATABASE.exec(body)
    if (database) this.database = identifier(database[1]!)
    const table = DUMPING_DATA.exec(body)
    if (table) this.table = this.database ? `${this.database}.${identifier(table[1]!)}` : identifier(table[1]!)
    if (body.startsWith('-- Dump completed')) this.completed = true
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

  private endsStatement(body: string): boolean {
    return body.trimEnd().endsWith(this.delimiter)
  }

  private takePending(): Buffer {
    const line = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLength)
    this.pending = []
    this.pendingLength = 0
    return line
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
