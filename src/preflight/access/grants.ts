/** One `GRANT … ON … TO …` line of SHOW GRANTS, reduced to what the privilege check needs. */
export interface PrivilegeGrant {
  kind: 'privileges'
  /** Upper case, `ALL PRIVILEGES` as `ALL`; column-level privileges (`SELECT (a)`) are left out. */
  privileges: Set<string>
  level: 'global' | 'database' | 'table' | 'routine'
  /** For `database` a LIKE pattern as SHOW GRANTS writes it (`shop\_eu`, `app%`); else the name. */
  database?: string
  table?: string
  grantOption: boolean
}

/** `GRANT role TO …`: a role granted to the grantee. */
export interface RoleGrant {
  kind: 'role'
  roles: string[]
}

/** Parses one line of SHOW GRANTS; undefined for lines that grant nothing this check reads (SET DEFAULT ROLE, PROXY). */
export function parseGrantLine(line: string): PrivilegeGrant | RoleGrant | undefined {
  const text = line.trim()
  if (!/^GRANT\s/i.test(text)) return undefined
  let pos = 'GRANT '.length
  const on = findKeyword(text, pos, ' ON ')
  const to = findKeyword(text, pos, ' TO ')
  if (to < 0) return undefined
  if (on < 0 || on > to) {
    const roles = [...text.slice(pos, to).matchAll(/`((?:[^`]|``)*)`|([^\s,`]+)/g)].map((m) => (m[1] ?? m[2] ?? '').replaceAll('``', '`'))
    return {kind: 'role', roles}
  }

  const privileges = new Set<string>()
  for (const item of splitTopLevel(text.slice(pos, on))) {
    // A column list makes it a column privilege, which covers no whole table.
    if (item.includes('(')) continue
    const name = item.trim().replace(/\s+/g, ' ').toUpperCase()
    privileges.add(name === 'ALL PRIVILEGES' ? 'ALL' : name)
  }

  pos = on + ' ON '.length
  let routine = false
  const typed = /^(PACKAGE BODY|PACKAGE|FUNCTION|PROCEDURE|TABLE)\s+/i.exec(text.slice(pos))
  if (typed) {
    routine = typed[1]!.toUpperCase() !== 'TABLE'
    pos += typed[0].length
  }
  const first = readName(text, pos)
  if (!first) return undefined
  pos = first.end
  let second: ReturnType<typeof readName>
  if (text[pos] === '.') {
    second = readName(text, pos + 1)
    if (!second) return undefined
    pos = second.end
  }
  const tail = text.slice(text.indexOf(' TO ', pos) + 4)
  // Quoted names and the password hash could hold any text: look for GRANT OPTION outside them.
  const grantOption = /\bGRANT OPTION\b/i.test(tail.replace(/`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'/g, ''))

  let level: PrivilegeGrant['level']
  if (routine) level = 'routine'
  else if (!second) level = first.star ? 'global' : 'table'
  else if (first.star && second.star) level = 'global'
  else if (second.star) level = 'database'
  else level = 'table'
  return {
    kind: 'privileges',
    privileges,
    level,
    database: level === 'global' ? undefined : first.name,
    table: level === 'table' || level === 'routine' ? second?.name : undefined,
    grantOption,
  }
}

/** True when a database-level grant's LIKE pattern (`_`, `%`, `\` escapes) covers the database `name`. */
export function databasePatternMatches(pattern: string, name: string, caseInsensitive: boolean): boolean {
  let source = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!)
    else if (c === '%') source += '.*'
    else if (c === '_') source += '.'
    else source += escapeRegExp(c)
  }
  return new RegExp(`^${source}$`, caseInsensitive ? 'isu' : 'su').test(name)
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

/** Index of `keyword` (e.g. ' ON ') in `text` from `from`, outside backticks, quotes and parentheses; -1 if none. */
function findKeyword(text: string, from: number, keyword: string): number {
  let depth = 0
  for (let i = from; i < text.length; i++) {
    const c = text[i]!
    if (c === '`' || c === "'") {
      i = skipQuoted(text, i)
      continue
    }
    if (c === '(') depth++
    else if (c === ')') depth--
    else if (depth === 0 && text.startsWith(keyword, i)) return i
  }
  return -1
}

/** Index of the quote that closes the one at `start` (a doubled quote stays inside). */
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

/** A `*` (star: a database named `*` is backticked), a backticked name (unquoted), or a bare name, at `pos`. */
function readName(text: string, pos: number): {name: string; end: number; star: boolean} | undefined {
  if (text[pos] === '*') return {name: '*', end: pos + 1, star: true}
  if (text[pos] === '`') {
    const end = skipQuoted(text, pos)
    return {name: text.slice(pos + 1, end).replaceAll('``', '`'), end: end + 1, star: false}
  }
  const m = /^[^\s.`]+/.exec(text.slice(pos))
  return m ? {name: m[0], end: pos + m[0].length, star: false} : undefined
}
