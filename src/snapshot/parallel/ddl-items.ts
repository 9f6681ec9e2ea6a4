import {type Token, tokenize, unquote} from '../objects/tokens.js'

/** A token of code (no space, no plain comment) inside a table item, with its depth of parentheses in that item. */
export interface ItemToken extends Token {
  depth: number
}

/** One top-level comma-separated item of a CREATE TABLE body: a column, a key, a constraint, a period. */
export interface DdlItem {
  /** Where its text starts and ends in the statement (spaces around it and the commas excluded; comments in it included). */
  start: number
  end: number
  /** Its code tokens: identifiers, strings and plain comments are single tokens, so no name or text can pass for a keyword. */
  tokens: ItemToken[]
}

/** A `CREATE TABLE name ( items ) options` statement split at its top level. */
export interface TableDdl {
  text: string
  items: DdlItem[]
  /** The code tokens after the body's closing parenthesis, versioned comments' content included. */
  options: Token[]
}

/**
 * Splits a SHOW CREATE TABLE text (sql_quote_show_create=1, sql_mode without ANSI_QUOTES or
 * NO_BACKSLASH_ESCAPES: the lexer's defaults) into its items and options, or undefined when it
 * is not exactly one cleanly lexed CREATE TABLE: an unterminated string, identifier or comment,
 * unbalanced parentheses, an empty item, a `;`, a comment to the end of the line (text appended
 * after it would be commented out), a space other than ASCII's, or a versioned comment in the body
 * holding more than words (its content runs or not by server version, so its items would not be
 * certain), or one whose version is not of 5 or 6 digits (the server runs the other digits as
 * code). Versioned comments' content is read as code, as a server of today runs it.
 */
export function parseCreateTable(text: string): TableDdl | undefined {
  const tokens = codeTokens(text)
  if (tokens === undefined) return undefined
  const [create, table, name, open] = tokens
  if (!isWord(text, create, 'CREATE') || !isWord(text, table, 'TABLE') || name?.kind !== 'identifier' || !isSymbol(text, open, '(')) return undefined
  const items: DdlItem[] = []
  let current: ItemToken[] = []
  let depth = 0
  let inCode = false
  let i = 4
  for (; i < tokens.length; i++) {
    const token = tokens[i]!
    if (token.kind === 'code-open' || token.kind === 'code-close') inCode = token.kind === 'code-open'
    // Only words in a versioned comment of the body (`/*M!100301 COMPRESSED*/`): whether it runs, it cannot make or end an item.
    else if (inCode && token.kind !== 'word') return undefined
    const symbol = token.kind === 'symbol' ? text[token.start] : undefined
    if (depth === 0 && (symbol === ',' || symbol === ')')) {
      const code = current.filter((t) => t.kind !== 'comment' && t.kind !== 'code-open' && t.kind !== 'code-close')
      if (code.length === 0) return undefined
      items.push({start: current[0]!.start, end: current.at(-1)!.end, tokens: code})
      current = []
      if (symbol === ')') break
      continue
    }
    if (symbol === ')') depth--
    current.push({...token, depth})
    if (symbol === '(') depth++
  }
  if (i >= tokens.length) return undefined
  const options = tokens.slice(i + 1)
  if (!balanced(text, options)) return undefined
  return {text, items, options: options.filter((t) => t.kind !== 'comment' && t.kind !== 'code-open' && t.kind !== 'code-close')}
}

/**
 * The statement's tokens without spaces, or undefined when one is unterminated, a comment runs to
 * the end of a line, or a `;` ends the statement early.
 */
function codeTokens(text: string): Token[] | undefined {
  const tokens: Token[] = []
  let inCode = false
  // With a character appended, a string, identifier or comment that never closes swallows it.
  for (const token of tokenize(`${text}\n`)) {
    const source = text.slice(token.start, token.end)
    // The server's lexer knows only ASCII spaces; a no-break space is part of a name to it.
    if (token.kind === 'space' && /[^ \t\r\n]/.test(source)) return undefined
    if (token.kind === 'space') continue
    if (token.end > text.length) return undefined
    if (token.kind === 'comment' && !source.startsWith('/*')) return undefined
    if (token.kind === 'symbol' && source === ';') return undefined
    // The server takes a version of 5 or 6 digits and runs any other digits as code (`/*!1000001` is 100000 then `1`): the tokens would not be its.
    if (token.kind === 'code-open' && !/^\/\*M?!(?:\d{5,6})?$/.test(source)) return undefined
    if (token.kind === 'code-open' || token.kind === 'code-close') inCode = token.kind === 'code-open'
    // A server older than the comment's version skips it to the first `*/`, in a string or not: then both must end it there.
    else if (inCode && (token.kind === 'comment' || source.includes('*/'))) return undefined
    tokens.push(token)
  }
  return tokens
}

/** Whether the options' parentheses balance and every versioned comment closes. */
function balanced(text: string, tokens: Token[]): boolean {
  let depth = 0
  let inCode = false
  for (const token of tokens) {
    if (token.kind === 'code-open') inCode = true
    else if (token.kind === 'code-close') inCode = false
    else if (isSymbol(text, token, '(')) depth++
    else if (isSymbol(text, token, ')') && --depth < 0) return false
  }
  return depth === 0 && !inCode
}

/** Whether `token` is the keyword `word` (any case; a quoted name never is). */
export function isWord(text: string, token: Token | undefined, word: string): boolean {
  return token?.kind === 'word' && text.slice(token.start, token.end).toUpperCase() === word
}

export function isSymbol(text: string, token: Token | undefined, symbol: string): boolean {
  return token?.kind === 'symbol' && text.slice(token.start, token.end) === symbol
}

/** The upper-case keywords of `tokens` (words only, at any depth). */
export function wordsOf(text: string, tokens: Token[]): string[] {
  return tokens.filter((t) => t.kind === 'word').map((t) => text.slice(t.start, t.end).toUpperCase())
}

/** The name an identifier token stands for, or undefined for any other token. */
export function identifierName(text: string, token: Token | undefined): string | undefined {
  return token?.kind === 'identifier' ? unquote(text, token) : undefined
}

/** The item's text exactly as in the statement. */
export function itemText(ddl: TableDdl, item: DdlItem): string {
  return ddl.text.slice(item.start, item.end)
}

/**
 * The statement without the items at `dropped` (indexes into ddl.items): everything else byte for
 * byte, each kept item keeping the separator (comma, line break, indent) that came before it.
 */
export function withoutItems(ddl: TableDdl, dropped: Set<number>): string {
  const {text, items} = ddl
  const kept = items.map((_, i) => i).filter((i) => !dropped.has(i))
  if (kept.length === 0) throw new Error('a table keeps at least one item')
  let out = text.slice(0, items[0]!.start) + itemText(ddl, items[kept[0]!]!)
  for (const i of kept.slice(1)) out += text.slice(items[i - 1]!.end, items[i]!.end)
  return out + text.slice(items.at(-1)!.end)
}
