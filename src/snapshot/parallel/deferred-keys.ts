import {quoteIdentifier, quoteQualified} from '../../lib/sql.js'
import type {Token} from '../objects/tokens.js'
import {type DdlItem, identifierName, isSymbol, isWord, itemText, parseCreateTable, type TableDdl, withoutItems, wordsOf} from './ddl-items.js'

/** A table's CREATE TABLE split into the table without its plain secondary keys and those keys, to add after the rows. */
export interface DeferredKeys {
  /** The CREATE TABLE without the deferred keys: otherwise byte for byte the input. */
  create: string
  /** Each deferred key: its name (unquoted) and its clause exactly as in the input, e.g. "KEY `k` (`c`(10)) COMMENT 'x'". In input order. */
  keys: Array<{name: string; clause: string}>
}

/**
 * Keywords that make a table ineligible wherever they stand as code in its body: a foreign key
 * (InnoDB creates the index it needs itself, under the key's name, when none fits), FULLTEXT and
 * SPATIAL keys (sorted after plain ones, and built another way), generated columns (their keys
 * may need the expression evaluated for every row anyway), periods and system versioning.
 */
const INELIGIBLE = new Set(['FOREIGN', 'REFERENCES', 'FULLTEXT', 'SPATIAL', 'PERIOD', 'VERSIONING', 'GENERATED', 'VIRTUAL', 'PERSISTENT', 'STORED'])

/** Words that have no place in a plain InnoDB table's options: partitions, system versioning, CREATE … SELECT / LIKE. */
const FOREIGN_OPTIONS = new Set(['PARTITION', 'PARTITIONS', 'SUBPARTITION', 'SUBPARTITIONS', 'SYSTEM', 'VERSIONING', 'SELECT', 'AS', 'IGNORE', 'REPLACE', 'UNION', 'WITH', 'LIKE', 'TABLE', 'VALUES'])

type Item =
  | {kind: 'column'; name: string; autoIncrement: boolean}
  | {kind: 'primary' | 'unique'; firstColumn: string}
  | {kind: 'key'; name: string}
  | {kind: 'check'}

/**
 * The plain secondary keys of `ddl` (a SHOW CREATE TABLE text read with sql_quote_show_create=1
 * and no ANSI_QUOTES / NO_BACKSLASH_ESCAPES) to add after the rows, or undefined when the table is
 * not eligible or has none. Eligible: InnoDB, not partitioned, not system-versioned, a PRIMARY
 * KEY, no foreign key, FULLTEXT or SPATIAL key, generated column, period or USING HASH key, and
 * every item one whose shape SHOW CREATE TABLE writes. Only `KEY` items are deferred: MariaDB
 * orders a table's keys PRIMARY, unique, plain (ties by position), so the kept PRIMARY and UNIQUE
 * keys followed by the plain ones added in one ALTER in their order is the source's order.
 */
export function deferKeys(ddl: string): DeferredKeys | undefined {
  const table = parseCreateTable(ddl)
  if (table === undefined || !plainInnoDb(ddl, table.options)) return undefined
  const items: Item[] = []
  for (const item of table.items) {
    const read = readItem(ddl, item)
    if (read === undefined) return undefined
    items.push(read)
  }
  if (items.filter((item) => item.kind === 'primary').length !== 1) return undefined
  // errno 1075 "there can be only one auto column and it must be defined as a key": the kept keys must lead with it.
  const leading = new Set(items.flatMap((item) => (item.kind === 'primary' || item.kind === 'unique' ? [item.firstColumn] : [])))
  if (items.some((item) => item.kind === 'column' && item.autoIncrement && !leading.has(item.name))) return undefined
  const deferred = items.flatMap((item, i) => (item.kind === 'key' ? [i] : []))
  const keys = deferred.map((i) => ({name: (items[i] as {name: string}).name, clause: itemText(table, table.items[i]!)}))
  if (keys.length === 0 || new Set(keys.map((key) => key.name.toLowerCase())).size !== keys.length) return undefined
  return {create: withoutItems(table, new Set(deferred)), keys}
}

/** Whether the options say ENGINE=InnoDB, once, and nothing but plain table options. */
function plainInnoDb(text: string, options: Token[]): boolean {
  if (wordsOf(text, options).some((word) => FOREIGN_OPTIONS.has(word)) || options.some((t) => isSymbol(text, t, '('))) return false
  const engines = options.flatMap((token, i) => (isWord(text, token, 'ENGINE') ? [i] : []))
  if (engines.length !== 1) return false
  const at = engines[0]!
  return isWord(text, options[isSymbol(text, options[at + 1], '=') ? at + 2 : at + 1], 'INNODB')
}

/** What the item is, or undefined when it makes the table ineligible or is not a shape SHOW CREATE TABLE writes. */
function readItem(text: string, item: DdlItem): Item | undefined {
  const t = item.tokens
  if (wordsOf(text, t).some((word) => INELIGIBLE.has(word))) return undefined
  // USING HASH: a long unique key, enforced through a hidden generated column.
  if (t.some((token, i) => isWord(text, token, 'USING') && isWord(text, t[i + 1], 'HASH'))) return undefined
  const [a, b, c, d, e] = t
  const column = identifierName(text, a)
  if (column !== undefined) {
    // `AS (expr)` at the top level of a column: a generated column without GENERATED ALWAYS.
    if (t.some((token) => token.depth === 0 && isWord(text, token, 'AS'))) return undefined
    return {kind: 'column', name: column, autoIncrement: t.some((token) => token.depth === 0 && isWord(text, token, 'AUTO_INCREMENT'))}
  }
  const primaryColumn = isWord(text, a, 'PRIMARY') && isWord(text, b, 'KEY') && isSymbol(text, c, '(') ? identifierName(text, d) : undefined
  if (primaryColumn !== undefined) return {kind: 'primary', firstColumn: primaryColumn}
  const uniqueNamed = isWord(text, a, 'UNIQUE') && isWord(text, b, 'KEY') && c?.kind === 'identifier' && isSymbol(text, d, '(')
  const uniqueColumn = uniqueNamed ? identifierName(text, e) : undefined
  if (uniqueColumn !== undefined) return {kind: 'unique', firstColumn: uniqueColumn}
  const keyName = isWord(text, a, 'KEY') && isSymbol(text, c, '(') ? identifierName(text, b) : undefined
  if (keyName !== undefined) return {kind: 'key', name: keyName}
  const check = (isWord(text, a, 'CHECK') && isSymbol(text, b, '(')) || (isWord(text, a, 'CONSTRAINT') && b?.kind === 'identifier' && isWord(text, c, 'CHECK'))
  return check ? {kind: 'check'} : undefined
}

/**
 * `ALTER TABLE db.name ADD <clause>, ADD <clause>…, ALGORITHM=DEFAULT`: the keys built in one pass
 * over the rows, in their order. Throws when a clause is not one plain KEY item that lexes cleanly
 * on its own (it would be a bug: clauses come from deferKeys), so that no text can end the
 * statement or start another. Run it as the CREATE: in a session whose sql_mode has neither
 * ANSI_QUOTES nor NO_BACKSLASH_ESCAPES (prepareDdlSessions), the lexer the clauses were read with.
 * ALGORITHM=DEFAULT: a replica whose alter_algorithm is INSTANT (or NOCOPY, for an engine that
 * cannot) would refuse the build (1846), where the CREATE with its keys would have done.
 */
export function addKeysStatement(database: string, name: string, keys: DeferredKeys['keys']): string {
  if (keys.length === 0) throw new Error('addKeysStatement needs at least one key')
  for (const {clause} of keys) {
    const head = `CREATE TABLE ${quoteIdentifier('t')} (`
    const table = parseCreateTable(`${head}${clause})`)
    const [item] = table?.items ?? []
    const whole = table?.items.length === 1 && item!.start === head.length && item!.end === head.length + clause.length
    if (!whole || readItem(table.text, item!)?.kind !== 'key') throw new Error(`not a plain KEY clause: ${JSON.stringify(clause)}`)
  }
  return `ALTER TABLE ${quoteQualified(database, name)} ${keys.map((key) => `ADD ${key.clause}`).join(', ')}, ALGORITHM=DEFAULT`
}

/** Words that may follow a foreign key's referenced columns. */
const REFERENCE_OPTIONS = new Set(['ON', 'DELETE', 'UPDATE', 'CASCADE', 'SET', 'NULL', 'RESTRICT', 'NO', 'ACTION', 'DEFAULT', 'MATCH', 'FULL', 'PARTIAL', 'SIMPLE'])

/**
 * The tables the foreign keys of `ddl` reference (an unqualified REFERENCES `t` is in `database`,
 * the table's own), each once, [] when none, or 'unknown' when the text or one of its items that
 * says FOREIGN or REFERENCES cannot be read: the caller then assumes it may reference any table.
 */
export function foreignKeyTargets(ddl: string, database: string): Array<{database: string; name: string}> | 'unknown' {
  const table = parseCreateTable(ddl)
  if (table === undefined) return 'unknown'
  const targets = new Map<string, {database: string; name: string}>()
  for (const item of table.items) {
    const words = wordsOf(ddl, item.tokens)
    if (!words.includes('FOREIGN') && !words.includes('REFERENCES')) continue
    const target = referencedTable(table, item.tokens, database)
    if (target === undefined) return 'unknown'
    targets.set(JSON.stringify([target.database, target.name]), target)
  }
  return [...targets.values()]
}

/**
 * The table of `[CONSTRAINT name] FOREIGN KEY [name] (cols) REFERENCES [db.]table (cols) [ON …] [MATCH …]`,
 * or undefined for any other shape.
 */
function referencedTable({text}: TableDdl, tokens: Token[], database: string): {database: string; name: string} | undefined {
  let i = 0
  const word = (w: string) => isWord(text, tokens[i], w) && ++i > 0
  const symbol = (s: string) => isSymbol(text, tokens[i], s) && ++i > 0
  const identifier = () => (tokens[i]?.kind === 'identifier' ? identifierName(text, tokens[i++]) : undefined)
  const columns = () => {
    if (!symbol('(') || identifier() === undefined) return false
    while (symbol(',')) if (identifier() === undefined) return false
    return symbol(')')
  }
  if (word('CONSTRAINT')) identifier()
  if (!word('FOREIGN') || !word('KEY')) return undefined
  if (tokens[i]?.kind === 'identifier') i++
  if (!columns() || !word('REFERENCES')) return undefined
  const first = identifier()
  const dotted = symbol('.')
  const second = dotted ? identifier() : undefined
  if (first === undefined || (dotted && second === undefined)) return undefined
  if (!columns() || tokens.slice(i).some((t) => t.kind !== 'word' || !REFERENCE_OPTIONS.has(text.slice(t.start, t.end).toUpperCase()))) return undefined
  return second === undefined ? {database, name: first} : {database: first, name: second}
}
