import type {GrantObject, RoutineKind} from '../preflight/grants.js'
import type {Account} from '../lib/sql.js'
import {type Token, tokenize, unquote} from '../snapshot/objects/tokens.js'

/** What a grant is on, names unquoted (a database pattern keeps its `\_` escapes, as SHOW GRANTS writes it): the shape lib/grants.ts reads too. */
export type GrantTarget = GrantObject

/** `SELECT`, `CREATE TEMPORARY TABLES`, `ALL PRIVILEGES` (upper case), with its column list when there is one. */
export interface PrivilegeItem {
  name: string
  columns?: string[]
}

export interface PrivilegeGrant {
  kind: 'privileges'
  privileges: PrivilegeItem[]
  on: GrantTarget
  to: Account
  grantOption: boolean
}

export interface RoleGrant {
  kind: 'role'
  roles: string[]
  to: Account
  adminOption: boolean
}

export interface DefaultRole {
  kind: 'default-role'
  role: string
  to: Account
}

export type GrantLine = PrivilegeGrant | RoleGrant | DefaultRole

/** The code tokens of a server-written statement: spaces and comments dropped, with the text they come from. */
class Cursor {
  readonly tokens: Token[]
  i = 0
  constructor(readonly sql: string) {
    this.tokens = [...tokenize(sql)].filter((t) => t.kind !== 'space' && t.kind !== 'comment')
  }

  get done(): boolean {
    return this.i >= this.tokens.length
  }

  peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset]
  }

  text(t: Token | undefined = this.peek()): string {
    return t ? this.sql.slice(t.start, t.end) : ''
  }

  /** Whether the next token is the keyword `word` (any case); consumes it if so. */
  accept(word: string): boolean {
    const t = this.peek()
    if (t?.kind === 'word' && this.text(t).toUpperCase() === word) {
      this.i++
      return true
    }
    return false
  }

  acceptSymbol(symbol: string): boolean {
    if (this.peek()?.kind === 'symbol' && this.text() === symbol) {
      this.i++
      return true
    }
    return false
  }

  /** A name: backquoted identifier, quoted string or bare word, unquoted. */
  name(): string | undefined {
    const t = this.peek()
    if (t?.kind !== 'identifier' && t?.kind !== 'string' && t?.kind !== 'word') return undefined
    this.i++
    return unquote(this.sql, t)
  }

  /** `user`@`host`, or a role (no `@`). */
  account(): Account | undefined {
    const user = this.name()
    if (user === undefined) return undefined
    if (!this.acceptSymbol('@')) return {user}
    const host = this.name()
    return host === undefined ? undefined : {user, host}
  }
}

/**
 * Parses one line of SHOW GRANTS with the SQL tokenizer: names may hold quotes, backticks, `%`,
 * `_`, unicode, and the password hash any text. Undefined for what is neither a privilege grant, a
 * role grant nor SET DEFAULT ROLE (PROXY grants).
 */
export function parseGrantLine(line: string): GrantLine | undefined {
  const c = new Cursor(line)
  if (c.accept('SET')) {
    if (!c.accept('DEFAULT') || !c.accept('ROLE')) return undefined
    const role = c.name()
    if (role === undefined || !c.accept('FOR')) return undefined
    const to = c.account()
    return to ? {kind: 'default-role', role, to} : undefined
  }
  if (!c.accept('GRANT')) return undefined
  const items = privilegeItems(c)
  if (!items) return undefined
  if (c.accept('TO')) {
    const to = c.account()
    if (!to) return undefined
    return {kind: 'role', roles: items.map((i) => i.raw), to, adminOption: hasOption(c, 'ADMIN')}
  }
  if (!c.accept('ON')) return undefined
  const on = grantTarget(c)
  if (!on || !c.accept('TO')) return undefined
  const to = c.account()
  if (!to) return undefined
  const privileges = items.map(({name, columns}) => (columns ? {name, columns} : {name}))
  if (privileges.some((p) => p.name === 'PROXY')) return undefined
  return {kind: 'privileges', privileges, on, to, grantOption: hasOption(c, 'GRANT')}
}

/** The comma-separated list before ON or TO: privilege names with their column lists, or role names (`raw`). */
function privilegeItems(c: Cursor): Array<PrivilegeItem & {raw: string}> | undefined {
  const items: Array<PrivilegeItem & {raw: string}> = []
  for (;;) {
    const words: string[] = []
    const names: string[] = []
    while (!c.done) {
      const t = c.peek()!
      if (t.kind === 'word' && (c.text(t).toUpperCase() === 'ON' || c.text(t).toUpperCase() === 'TO') && words.length > 0) break
      if (t.kind !== 'word' && t.kind !== 'identifier' && t.kind !== 'string') break
      words.push(t.kind === 'word' ? c.text(t).toUpperCase() : unquote(c.sql, t))
      names.push(unquote(c.sql, t))
      c.i++
    }
    if (words.length === 0) return undefined
    // A role is one name, written as it is; a privilege is one or more keywords.
    const item: PrivilegeItem & {raw: string} = {name: words.join(' '), raw: names.length === 1 ? names[0]! : words.join(' ')}
    if (c.acceptSymbol('(')) {
      item.columns = []
      do {
        const column = c.name()
        if (column === undefined) return undefined
        item.columns.push(column)
      } while (c.acceptSymbol(','))
      if (!c.acceptSymbol(')')) return undefined
    }
    items.push(item)
    if (!c.acceptSymbol(',')) return items
  }
}

function grantTarget(c: Cursor): GrantTarget | undefined {
  let kind: RoutineKind | undefined
  if (c.accept('PROCEDURE')) kind = 'PROCEDURE'
  else if (c.accept('FUNCTION')) kind = 'FUNCTION'
  else if (c.accept('PACKAGE')) kind = c.accept('BODY') ? 'PACKAGE BODY' : 'PACKAGE'
  else c.accept('TABLE')
  // A database or table named `*` is backquoted: only the bare symbol is the wildcard.
  const firstStar = c.acceptSymbol('*')
  const first = firstStar ? '*' : c.name()
  if (first === undefined || !c.acceptSymbol('.')) return undefined
  const secondStar = c.acceptSymbol('*')
  const second = secondStar ? '*' : c.name()
  if (second === undefined) return undefined
  if (kind) return firstStar || secondStar ? undefined : {level: 'routine', kind, database: first, name: second}
  if (firstStar && secondStar) return {level: 'global'}
  if (secondStar) return firstStar ? undefined : {level: 'database', pattern: first}
  return firstStar ? undefined : {level: 'table', database: first, table: second}
}

/** `WITH GRANT OPTION` / `WITH ADMIN OPTION` among the tokens after the grantee (strings are tokens of their own: a hash cannot fake it). */
function hasOption(c: Cursor, word: 'GRANT' | 'ADMIN'): boolean {
  while (!c.done) {
    if (c.accept('WITH')) {
      while (!c.done && c.peek()!.kind === 'word' && c.text().toUpperCase() !== 'WITH') {
        if (c.accept(word)) return c.accept('OPTION')
        c.i++
      }
    } else c.i++
  }
  return false
}

/** How an account logs in, from SHOW CREATE USER: the clause with `?` for each auth string, and those strings. */
export interface Authentication {
  /** `IDENTIFIED BY PASSWORD ?`, `IDENTIFIED VIA ed25519 USING ? OR unix_socket`; empty when the account has none. */
  clause: string
  /** The hashes and auth strings, in order: secrets. */
  values: string[]
  /** REQUIRE, resource limits, PASSWORD EXPIRE, ACCOUNT LOCK: server-written text, kept as it is. */
  options: string
}

const OPTION_START = new Set(['REQUIRE', 'WITH', 'PASSWORD', 'ACCOUNT'])

/** Parses `CREATE USER `u`@`h` …` as SHOW CREATE USER writes it; undefined if it is not that. */
export function parseCreateUser(statement: string): {account: Account; auth: Authentication} | undefined {
  const c = new Cursor(statement)
  if (!c.accept('CREATE') || !c.accept('USER')) return undefined
  const account = c.account()
  if (!account) return undefined
  const clause: string[] = []
  const values: string[] = []
  if (c.accept('IDENTIFIED')) {
    clause.push('IDENTIFIED')
    while (!c.done) {
      const t = c.peek()!
      const word = t.kind === 'word' ? c.text(t).toUpperCase() : ''
      // `BY PASSWORD` belongs to the clause; PASSWORD EXPIRE… starts the options.
      if (OPTION_START.has(word) && !(word === 'PASSWORD' && clause.at(-1) === 'BY')) break
      if (t.kind === 'string') {
        values.push(unquote(c.sql, t))
        clause.push('?')
      } else if (t.kind === 'word' || t.kind === 'identifier') clause.push(c.text(t))
      else return undefined
      c.i++
    }
  }
  const rest = c.peek()
  // The options run verbatim on the replica: only keywords, numbers and quoted strings, as the server writes them.
  if (c.tokens.slice(c.i).some((t) => t.kind !== 'word' && t.kind !== 'string' && !(t.kind === 'symbol' && c.text(t) === '='))) return undefined
  return {account, auth: {clause: clause.join(' '), values, options: rest ? statement.slice(rest.start).trim() : ''}}
}
