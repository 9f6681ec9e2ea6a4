import {likeMatch} from './sql.js'

/** One line of SHOW GRANTS that grants privileges on an object (role grants and PROXY are left out). */
export interface Grant {
  /** Upper case, column lists dropped: `EXECUTE`, `ALL PRIVILEGES`, ... */
  privileges: string[]
  /** `*.*`: global; a database pattern (`mysql`, `my\_db`, `app%`); or one routine. */
  on: {level: 'global'} | {level: 'database'; pattern: string} | {level: 'routine'; kind: string; database: string; name: string}
}

/** Parses SHOW GRANTS lines; identifiers may be backquoted with doubled backticks inside. */
export function parseGrants(lines: readonly string[]): Grant[] {
  const grants: Grant[] = []
  for (const line of lines) {
    const grant = parseGrant(line)
    if (grant) grants.push(grant)
  }
  return grants
}

function parseGrant(line: string): Grant | undefined {
  const text = line.trim()
  if (!/^GRANT\s/i.test(text)) return undefined
  const on = indexOutsideQuotes(text, /\sON\s/iy)
  if (on < 0) return undefined
  const privileges = splitTopLevel(text.slice(6, on))
    .map((p) => p.trim())
    .filter((p) => !p.includes('('))
    .map((p) => p.toUpperCase().replace(/\s+/g, ' '))
  let rest = text.slice(on).replace(/^\s+ON\s+/i, '')
  const kind = /^(PROCEDURE|FUNCTION|PACKAGE BODY|PACKAGE)\s+/i.exec(rest)
  if (kind) rest = rest.slice(kind[0].length)
  const first = readIdentifier(rest)
  if (!first) return undefined
  rest = rest.slice(first.length)
  if (kind) {
    if (!rest.startsWith('.')) return undefined
    const second = readIdentifier(rest.slice(1))
    if (!second) return undefined
    return {privileges, on: {level: 'routine', kind: kind[1]!.toUpperCase(), database: first.name, name: second.name}}
  }
  if (!first.quoted && first.name === '*' && rest.startsWith('.*')) return {privileges, on: {level: 'global'}}
  if (rest.startsWith('.*')) return {privileges, on: {level: 'database', pattern: first.name}}
  // A table-level grant: nothing a procedure needs.
  return undefined
}

/** May this grant list run `database`.`procedure`? Global, database-level (pattern) or routine-level EXECUTE; ALL PRIVILEGES counts. */
export function canExecute(grants: readonly Grant[], database: string, procedure: string, options: {caseInsensitiveDatabases: boolean}): boolean {
  const fold = (s: string) => (options.caseInsensitiveDatabases ? s.toLowerCase() : s)
  return grants.some((g) => {
    if (!g.privileges.some((p) => p === 'EXECUTE' || p === 'ALL PRIVILEGES' || p === 'ALL')) return false
    if (g.on.level === 'global') return true
    if (g.on.level === 'database') return likeMatch(g.on.pattern, database, {caseInsensitive: options.caseInsensitiveDatabases})
    // Routine names compare without regard to case in MariaDB.
    return g.on.kind === 'PROCEDURE' && fold(g.on.database) === fold(database) && g.on.name.toLowerCase() === procedure.toLowerCase()
  })
}

function readIdentifier(text: string): {name: string; length: number; quoted: boolean} | undefined {
  if (text.startsWith('*')) return {name: '*', length: 1, quoted: false}
  if (text.startsWith('`')) {
    let name = ''
    for (let i = 1; i < text.length; i++) {
      if (text[i] === '`') {
        if (text[i + 1] === '`') {
          name += '`'
          i++
          continue
        }
        return {name, length: i + 1, quoted: true}
      }
      name += text[i]
    }
    return undefined
  }
  const bare = /^[^\s.`]+/.exec(text)
  return bare ? {name: bare[0], length: bare[0].length, quoted: false} : undefined
}

/** The index where `re` (sticky) first matches outside backquotes and parentheses, or -1. */
function indexOutsideQuotes(text: string, re: RegExp): number {
  let quoted = false
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '`') quoted = !quoted
    else if (!quoted && c === '(') depth++
    else if (!quoted && c === ')') depth--
    else if (!quoted && depth === 0) {
      re.lastIndex = i
      if (re.test(text)) return i
    }
  }
  return -1
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = []
  let quoted = false
  let depth = 0
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '`') quoted = !quoted
    else if (!quoted && c === '(') depth++
    else if (!quoted && c === ')') depth--
    else if (!quoted && depth === 0 && c === ',') {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts
}
