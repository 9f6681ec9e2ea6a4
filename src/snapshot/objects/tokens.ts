/**
 * One lexical token of MariaDB SQL. `code-open` / `code-close` are the two ends of a versioned
 * comment (`/*!NNNNN … *\/`, `/*M!NNNNNN … *\/`), whose content the server runs as code: its
 * tokens come between them as any others.
 */
export interface Token {
  kind: 'space' | 'comment' | 'code-open' | 'code-close' | 'word' | 'identifier' | 'string' | 'symbol'
  start: number
  end: number
}

/** How the statement's sql_mode changes the lexer. */
export interface LexOptions {
  /** NO_BACKSLASH_ESCAPES: a backslash in a string is a character, not an escape. */
  noBackslashEscapes?: boolean
  /** ANSI_QUOTES: "…" is an identifier, not a string. */
  ansiQuotes?: boolean
}

/** The lexer's options for an object stored with this sql_mode. */
export function lexOptions(sqlMode: string): LexOptions {
  const modes = new Set(sqlMode.toUpperCase().split(','))
  return {noBackslashEscapes: modes.has('NO_BACKSLASH_ESCAPES'), ansiQuotes: modes.has('ANSI_QUOTES') || modes.has('ANSI')}
}

const WORD = /[\p{L}\p{N}_$\u0080-\uffff]/u
const SPACE = /\s/

/**
 * Splits `sql` into tokens the way the server's lexer does for what datain needs to find: strings
 * ('…' and "…", backslash escapes unless NO_BACKSLASH_ESCAPES, doubled quotes), `…` identifiers
 * (doubled backticks), `-- ` and `#` comments to the end of the line, `/* *\/` comments, versioned
 * comments as code, words and single symbols. An unterminated string or comment runs to the end,
 * which the server refuses as a syntax error.
 */
export function* tokenize(sql: string, options: LexOptions = {}): Generator<Token> {
  let i = 0
  let inCode = false
  const n = sql.length
  while (i < n) {
    const start = i
    const c = sql[i]!
    const next = sql[i + 1]
    if (SPACE.test(c)) {
      while (i < n && SPACE.test(sql[i]!)) i++
      yield {kind: 'space', start, end: i}
    } else if (c === '#' || (c === '-' && next === '-' && (i + 2 >= n || /[\s\p{Cc}]/u.test(sql[i + 2]!)))) {
      const nl = sql.indexOf('\n', i)
      i = nl < 0 ? n : nl
      yield {kind: 'comment', start, end: i}
    } else if (c === '/' && next === '*') {
      const versioned = /^\/\*M?!\d*/.exec(sql.slice(i, i + 12))
      if (versioned && !inCode) {
        i += versioned[0].length
        inCode = true
        yield {kind: 'code-open', start, end: i}
      } else {
        const close = sql.indexOf('*/', i + 2)
        i = close < 0 ? n : close + 2
        yield {kind: 'comment', start, end: i}
      }
    } else if (c === '*' && next === '/' && inCode) {
      i += 2
      inCode = false
      yield {kind: 'code-close', start, end: i}
    } else if (c === '`' || c === "'" || c === '"') {
      const identifier = c === '`' || (c === '"' && options.ansiQuotes === true)
      i = quotedEnd(sql, i, !identifier && !options.noBackslashEscapes)
      yield {kind: identifier ? 'identifier' : 'string', start, end: i}
    } else if (WORD.test(c)) {
      while (i < n && WORD.test(sql[i]!)) i++
      yield {kind: 'word', start, end: i}
    } else {
      // A surrogate pair is one character.
      i += c.codePointAt(0)! > 0xffff ? 2 : 1
      yield {kind: 'symbol', start, end: i}
    }
  }
}

/** Where the quoted text starting at `at` ends (past its closing quote). */
function quotedEnd(sql: string, at: number, backslashEscapes: boolean): number {
  const quote = sql[at]
  let i = at + 1
  while (i < sql.length) {
    const c = sql[i]
    if (backslashEscapes && c === '\\') i += 2
    else if (c === quote) {
      if (sql[i + 1] === quote) i += 2
      else return i + 1
    } else i++
  }
  return sql.length
}

/** The name an identifier, string or word token stands for: quotes removed, doubled quotes and escapes undone. */
export function unquote(sql: string, token: Token, options: LexOptions = {}): string {
  const text = sql.slice(token.start, token.end)
  if (token.kind === 'word') return text
  const quote = text[0]!
  const inner = text.slice(1, text.endsWith(quote) && text.length > 1 ? -1 : undefined)
  const doubled = inner.replaceAll(quote + quote, quote)
  if (quote === '`' || options.noBackslashEscapes || token.kind === 'identifier') return doubled
  return doubled.replace(/\\(.)/gsu, (_m, ch: string) => ESCAPES[ch] ?? ch)
}

const ESCAPES: Record<string, string> = {0: '\0', b: '\b', n: '\n', r: '\r', t: '\t', Z: '\x1a', '%': '\\%', _: '\\_'}
