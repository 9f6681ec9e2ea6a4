import {DatainError, ExitCode} from '../../lib/errors.js'
import {type LexOptions, type Token, tokenize, unquote} from './tokens.js'

export type ObjectKind = 'PROCEDURE' | 'FUNCTION' | 'PACKAGE' | 'PACKAGE BODY' | 'TRIGGER' | 'EVENT' | 'VIEW' | 'TABLE' | 'SEQUENCE' | 'DATABASE'

/** What datain asked SHOW CREATE for: the answer must create exactly this. */
export interface ExpectedObject {
  kind: ObjectKind
  /** The object's database (for DATABASE, its own name). */
  database: string
  name: string
}

export interface RewrittenStatement {
  /** The statement to run on the replica: the source's text with only its head changed. */
  sql: string
  definerRemoved: boolean
  /** An event's ENABLE made DISABLE ON SLAVE: it runs on the source and reaches the replica through replication. */
  eventDisabled: boolean
}

/** Kinds whose names the server compares without regard to case. */
const CASELESS = new Set<ObjectKind>(['PROCEDURE', 'FUNCTION', 'PACKAGE', 'PACKAGE BODY', 'TRIGGER', 'EVENT'])
/** Kinds whose statement has no compound body: a `;` in them can only start a second statement. */
const SIMPLE = new Set<ObjectKind>(['VIEW', 'TABLE', 'SEQUENCE', 'DATABASE'])
/** Kinds that SHOW CREATE never writes with OR REPLACE, where it would drop what exists. */
const NEVER_REPLACE = new Set<ObjectKind>(['TABLE', 'SEQUENCE', 'DATABASE'])
const HOST_SYMBOLS = new Set(['.', '%', '-', ':'])

/**
 * Checks that `sql`, the source's SHOW CREATE answer, is `CREATE [OR REPLACE] [ALGORITHM=…]
 * [DEFINER=…] [SQL SECURITY …] <kind> <expected name>`, and rewrites its head for a replica admin
 * without SUPER: the DEFINER clause removed (the admin becomes the definer, error 1227 otherwise),
 * an event's ENABLE made DISABLE ON SLAVE. The head ends at the object's name (for an event, at
 * DO): everything after it, the body, is returned byte for byte as the source wrote it. Anything
 * else is refused with a DatainError naming the object; nothing of it is to be run.
 */
export function rewriteHead(sql: string, expected: ExpectedObject, lex: LexOptions = {}): RewrittenStatement {
  const refuse = (why: string) => refusal(expected, why)
  const all = [...tokenize(sql, lex)]
  const tokens = all.filter((t) => t.kind !== 'space' && t.kind !== 'comment' && t.kind !== 'code-open' && t.kind !== 'code-close')
  let at = 0
  const text = (t: Token | undefined) => (t ? sql.slice(t.start, t.end) : '')
  const word = (t: Token | undefined) => (t?.kind === 'word' ? text(t).toUpperCase() : undefined)
  const take = (w: string) => (word(tokens[at]) === w ? tokens[at++] : undefined)
  const symbol = (s: string) => (tokens[at]?.kind === 'symbol' && text(tokens[at]) === s ? tokens[at++] : undefined)

  if (!take('CREATE')) return refuse(`it begins with ${JSON.stringify(text(tokens[0]).slice(0, 40))}, not CREATE`)
  if (take('OR')) {
    if (!take('REPLACE') || NEVER_REPLACE.has(expected.kind)) return refuse('it is not a plain CREATE')
  }
  const removals: Array<[number, number]> = []
  for (;;) {
    if (take('ALGORITHM')) {
      if (!symbol('=') || !word(tokens[at++])) return refuse('its ALGORITHM clause is malformed')
    } else if (word(tokens[at]) === 'DEFINER') {
      const first = tokens[at++]!
      if (!symbol('=')) return refuse('its DEFINER clause is malformed')
      const last = account(sql, tokens, at)
      if (last === undefined) return refuse('its DEFINER clause is malformed')
      at = last + 1
      removals.push([first.start, tokens[last]!.end])
    } else if (take('SQL')) {
      if (!take('SECURITY') || !word(tokens[at++])) return refuse('its SQL SECURITY clause is malformed')
    } else if (expected.kind === 'FUNCTION' && take('AGGREGATE')) {
      // CREATE AGGREGATE FUNCTION
    } else break
  }
  if (!expected.kind.split(' ').every((w) => take(w))) return refuse(`it creates ${word(tokens[at]) ?? JSON.stringify(text(tokens[at]).slice(0, 40))}, not a ${expected.kind}`)
  if (take('IF') && !(take('NOT') && take('EXISTS'))) return refuse('its IF NOT EXISTS is malformed')

  const name = nameAt(sql, tokens, at, lex)
  if (!name || !sameName(expected, name.parts)) {
    return refuse(`it names ${name ? name.parts.map((p) => JSON.stringify(p)).join('.') : 'no object'} instead`)
  }
  at = name.next

  const body = tokens.slice(at)
  if (SIMPLE.has(expected.kind) && body.some((t) => t.kind === 'symbol' && text(t) === ';')) return refuse('it holds a second statement')
  if (expected.kind === 'TABLE' || expected.kind === 'SEQUENCE') {
    const why = createTableRisk(sql, body, expected.kind)
    if (why) return refuse(why)
  }
  let eventDisabled = false
  const replacements: Array<[number, number, string]> = removals.map(([from, to]) => [from, endOfSpace(all, to), ''])
  if (expected.kind === 'EVENT') {
    const doAt = body.findIndex((t) => word(t) === 'DO')
    if (doAt < 0) return refuse('it has no DO')
    for (const t of body.slice(0, doAt)) {
      if (word(t) === 'ENABLE') {
        replacements.push([t.start, t.end, 'DISABLE ON SLAVE'])
        eventDisabled = true
      }
    }
  }
  let out = sql
  for (const [from, to, by] of replacements.sort((a, b) => b[0] - a[0])) out = out.slice(0, from) + by + out.slice(to)
  return {sql: out, definerRemoved: removals.length > 0, eventDisabled}
}

/** The index of the last token of the account at `at`: CURRENT_USER[()], CURRENT_ROLE[()], or user[@host] quoted or bare. */
function account(sql: string, tokens: Token[], at: number): number | undefined {
  const t = tokens[at]
  if (!t || !['word', 'identifier', 'string'].includes(t.kind)) return undefined
  if (t.kind === 'word' && ['CURRENT_USER', 'CURRENT_ROLE'].includes(sql.slice(t.start, t.end).toUpperCase())) {
    const open = tokens[at + 1]
    const close = tokens[at + 2]
    return open && close && sql.slice(open.start, open.end) === '(' && sql.slice(close.start, close.end) === ')' ? at + 2 : at
  }
  const at_ = tokens[at + 1]
  if (!at_ || at_.kind !== 'symbol' || sql.slice(at_.start, at_.end) !== '@') return at
  let last = at + 2
  const host = tokens[last]
  if (!host) return undefined
  if (host.kind === 'identifier' || host.kind === 'string') return last
  // A bare host runs on as long as its pieces touch: 127.0.0.1, %, db-1.example.com.
  const bare = (x: Token | undefined) => x !== undefined && (x.kind === 'word' || (x.kind === 'symbol' && HOST_SYMBOLS.has(sql.slice(x.start, x.end))))
  if (!bare(host)) return undefined
  while (bare(tokens[last + 1]) && tokens[last + 1]!.start === tokens[last]!.end) last++
  return last
}

function nameAt(sql: string, tokens: Token[], at: number, lex: LexOptions): {parts: string[]; next: number} | undefined {
  const part = (t: Token | undefined) => (t && (t.kind === 'identifier' || t.kind === 'word') ? unquote(sql, t, lex) : undefined)
  const first = part(tokens[at])
  if (first === undefined) return undefined
  const dot = tokens[at + 1]
  if (dot?.kind === 'symbol' && sql.slice(dot.start, dot.end) === '.') {
    const second = part(tokens[at + 2])
    return second === undefined ? undefined : {parts: [first, second], next: at + 3}
  }
  return {parts: [first], next: at + 1}
}

function sameName(expected: ExpectedObject, parts: string[]): boolean {
  const fold = (s: string) => (CASELESS.has(expected.kind) ? s.toLowerCase() : s)
  if (expected.kind === 'DATABASE') return parts.length === 1 && parts[0] === expected.name
  const name = parts[parts.length - 1]!
  // A qualifier is the object's database, whose name case the server keeps as the catalog has it.
  const database = parts.length === 2 ? parts[0]! : expected.database
  return fold(name) === fold(expected.name) && (CASELESS.has(expected.kind) ? database.toLowerCase() === expected.database.toLowerCase() : database === expected.database)
}

/**
 * What would make a CREATE TABLE do more than create the table: CREATE … SELECT reads the
 * replica's own tables into it (mysql.user…), CREATE … LIKE copies another one.
 */
function createTableRisk(sql: string, body: Token[], kind: ObjectKind): string | undefined {
  let depth = 0
  for (const t of body) {
    const s = sql.slice(t.start, t.end)
    if (t.kind === 'symbol' && s === '(') depth++
    else if (t.kind === 'symbol' && s === ')') depth--
    else if (t.kind === 'word') {
      const w = s.toUpperCase()
      if (w === 'SELECT' || (depth === 0 && (w === 'LIKE' || (w === 'AS' && kind === 'TABLE')))) return `it would ${w === 'LIKE' ? 'copy another table' : 'fill the new table from a query'} (${w})`
    }
  }
  if (kind === 'TABLE' && !(body[0]?.kind === 'symbol' && sql.slice(body[0].start, body[0].end) === '(')) return 'it has no column list'
  return undefined
}

/** Past the white space after `at`, so that a removed clause leaves no double space. */
function endOfSpace(tokens: Token[], at: number): number {
  const next = tokens.find((t) => t.start === at)
  return next?.kind === 'space' ? next.end : at
}

function refusal(expected: ExpectedObject, why: string): never {
  const what = expected.kind === 'DATABASE' ? `the database ${expected.name}` : `the ${expected.kind.toLowerCase()} ${expected.database}.${expected.name}`
  throw new DatainError(
    `The source answered SHOW CREATE ${expected.kind} for ${what} with a statement that is not the CREATE ${expected.kind} datain asked for: ${why}. ` +
      'datain ran nothing of it on the replica. Look at that object on the source (and at who can change it), then run datain start again.',
    {code: 'E_SNAPSHOT_DEFINITION', exit: ExitCode.failed},
  )
}
