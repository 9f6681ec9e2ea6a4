import {likeMatch} from '../lib/sql.js'

export type RoutineKind = 'PROCEDURE' | 'FUNCTION' | 'PACKAGE' | 'PACKAGE BODY'

/** What a privilege grant is on. */
export type GrantObject =
  | {level: 'global'}
  /** `pattern` is a LIKE pattern as SHOW GRANTS writes it (`shop\_eu`, `app%`): see {@link databasePatternMatches}. */
  | {level: 'database'; pattern: string}
  | {level: 'table'; database: string; table: string}
  | {level: 'routine'; kind: RoutineKind; database: string; name: string}

/** One `GRANT privileges ON object TO …` line of SHOW GRANTS. */
export interface PrivilegeGrant {
  kind: 'privileges'
  /** Upper case, `ALL PRIVILEGES` as `ALL`; column privileges (`SELECT (a)`) are left out: they cover no whole table. */
  privileges: Set<string>
  on: GrantObject
  /** WITH GRANT OPTION. */
  grantOption: boolean
}

/** `GRANT role, … TO …`: roles granted to the grantee. */
export interface RoleGrant {
  kind: 'role'
  roles: string[]
}

/**
 * Parses one line of SHOW GRANTS. Names may be backquoted (backticks inside doubled) and hold any
 * text, the password hash too. Undefined for lines that grant no privilege or role (SET DEFAULT
 * ROLE, PROXY).
 */
export function parseGrantLine(line: string): PrivilegeGrant | RoleGrant | undefined {
  const text = line.trim()
  const grant = /^GRANT\s+/i.exec(text)
  if (!grant) return undefined
  let pos = grant[0].length
  const on = findKeyword(text, pos, 'ON')
  const to = findKeyword(text, pos, 'TO')
  if (to < 0) return undefined
  if (on < 0 || on > to) {
    const roles = [...text.slice(pos, to).matchAll(/`((?:[^`]|``)*)`|([^\s,`]+)/g)].map((m) => (m[1] ?? m[2] ?? '').replaceAll('``', '`'))
    return {kind: 'role', roles}
  }

  const privileges = new Set<string>()
  for (const item of splitTopLevel(text.slice(pos, on))) {
    if (item.includes('(')) continue
    const name = item.trim().replace(/\s+/g, ' ').toUpperCase()
    privileges.add(name === 'ALL PRIVILEGES' ? 'ALL' : name)
  }
  // GRANT PROXY ON 'user'@'host': on an account, not on an object.
  if (privileges.size === 1 && privileges.has('PROXY')) return undefined

  pos = on + /^\s+ON\s+/i.exec(text.slice(on))![0].length
  let routine: RoutineKind | undefined
  const typed = /^(PACKAGE\s+BODY|PACKAGE|FUNCTION|PROCEDURE|TABLE)\s+/i.exec(text.slice(pos))
  if (typed) {
    const kind = typed[1]!.toUpperCase().replace(/\s+/g, ' ')
    if (kind !== 'TABLE') routine = kind as RoutineKind
    pos += typed[0].length
  }
  const first = readName(text, pos)
  if (!first) return undefined
  pos = first.end
  let second: ReturnType<typeof readName>
  if (text[pos] === '.') {
    second = readName(text, pos + 1)
    if (!second) return undefined
  }
  // Quoted names and the password hash could hold any text: look for GRANT OPTION outside them.
  const tail = text.slice(to).replace(/`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'/g, '')
  const grantOption = /\bGRANT\s+OPTION\b/i.test(tail)
  const result = (object: GrantObject): PrivilegeGrant => ({kind: 'privileges', privileges, on: object, grantOption})

  if (routine) return second && !second.star ? result({level: 'routine', kind: routine, database: first.name, name: second.name}) : undefined
  if (first.star && (!second || second.star)) return result({level: 'global'})
  if (second?.star) return result({level: 'database', pattern: first.name})
  // `ON name` alone is a table of the current database, which SHOW GRANTS never writes.
  return second ? result({level: 'table', database: first.name, table: second.name}) : undefined
}

/** The privilege grants among SHOW GRANTS lines (role grants and the rest left out). */
export function parseGrants(lines: readonly string[]): PrivilegeGrant[] {
  return lines.map(parseGrantLine).filter((g): g is PrivilegeGrant => g?.kind === 'privileges')
}

/** Whether the grant gives `privilege` (or ALL PRIVILEGES) on its object. */
export function grantsPrivilege(grant: PrivilegeGrant, privilege: string): boolean {
  return grant.privileges.has(privilege) || grant.privileges.has('ALL')
}

/**
 * Whether a database-level grant's LIKE pattern (`_`, `%`, `\` escapes) covers the database `name`.
 * `caseInsensitive` when the server's lower_case_table_names is not 0.
 */
export function databasePatternMatches(pattern: string, name: string, options: {caseInsensitive: boolean}): boolean {
  return likeMatch(pattern, name, options)
}

/**
 * May these grants run the procedure `database`.`procedure`? Global, database-level (pattern) or
 * routine-level EXECUTE; ALL PRIVILEGES counts. Routine names compare without regard to case, as in MariaDB.
 */
export function canExecute(list: readonly PrivilegeGrant[], database: string, procedure: string, options: {caseInsensitiveDatabases: boolean}): boolean {
  const fold = (s: string) => (options.caseInsensitiveDatabases ? s.toLowerCase() : s)
  return list.some((g) => {
    if (!grantsPrivilege(g, 'EXECUTE')) return false
    switch (g.on.level) {
      case 'global':
        return true
      case 'database':
        return databasePatternMatches(g.on.pattern, database, {caseInsensitive: options.caseInsensitiveDatabases})
      case 'routine':
        return g.on.kind === 'PROCEDURE' && fold(g.on.database) === fold(database) && g.on.name.toLowerCase() === procedure.toLowerCase()
      case 'table':
        // EXECUTE is no table privilege, and ALL on a table does not include it.
        return false
    }
  })
}

/** Index of the keyword (`ON`, `TO`) between whitespace in `text` from `from`, outside quotes and parentheses; -1 if none. */
function findKeyword(text: string, from: number, keyword: string): number {
  const re = new RegExp(`\\s${keyword}\\s`, 'iy')
  let depth = 0
  for (let i = from; i < text.length; i++) {
    const c = text[i]!
    if (c === '`' || c === "'") {
      i = skipQuoted(text, i)
      continue
    }
    if (c === '(') depth++
    else if (c === ')') depth--
    else if (depth === 0) {
      re.lastIndex = i
      if (re.test(text)) return i
    }
  }
  return -1
}

/** Index of the quote that closes the one at `start` (a doubled quote stays inside; `\` escapes in '…'). */
function skipQuoted(text: string, start: number): number {
  const q = text[start]!
  for (let i = start + 1; i < text.length; i++) {
    if (q === "'" && text[i] === '\\') {
      i++
      continue
    }
    if (text[i] === q) {
      if (text[i + 1] === q) {
        i++
        continue
      }
      return i
    }
  }
  return text.length
}

/** The comma-separated items of a privilege list, commas inside quotes and column lists kept. */
function splitTopLevel(text: string): string[] {
  const items: string[] = []
  let depth = 0
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === '`' || c === "'") i = skipQuoted(text, i)
    else if (c === '(') depth++
    else if (c === ')') depth--
    else if (c === ',' && depth === 0) {
      items.push(text.slice(start, i))
      start = i + 1
    }
  }
  items.push(text.slice(start))
  return items.filter((item) => item.trim() !== '')
}

/** A `*` (a database or table named `*` is backquoted), a backquoted name (unquoted), or a bare name, at `pos`. */
function readName(text: string, pos: number): {name: string; end: number; star: boolean} | undefined {
  if (text[pos] === '*') return {name: '*', end: pos + 1, star: true}
  if (text[pos] === '`') {
    const end = skipQuoted(text, pos)
    if (end >= text.length) return undefined
    return {name: text.slice(pos + 1, end).replaceAll('``', '`'), end: end + 1, star: false}
  }
  const m = /^[^\s.`]+/.exec(text.slice(pos))
  return m ? {name: m[0], end: pos + m[0].length, star: false} : undefined
}
