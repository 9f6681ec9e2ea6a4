import {quoteIdentifier, quoteQualified} from '../lib/sql.js'
import type {GrantTarget, PrivilegeGrant, PrivilegeItem} from './parse.js'
import type {AccountDefinition, AdminPowers} from './read.js'

/** What ALL PRIVILEGES stands for below the global level (intersected with what the server knows). */
const LEVEL_PRIVILEGES: Record<'database' | 'table' | 'routine', string[]> = {
  database: [
    'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX', 'ALTER', 'CREATE TEMPORARY TABLES', 'LOCK TABLES', 'EXECUTE',
    'CREATE VIEW', 'SHOW VIEW', 'CREATE ROUTINE', 'ALTER ROUTINE', 'EVENT', 'TRIGGER', 'DELETE HISTORY', 'SHOW CREATE ROUTINE',
  ],
  table: ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX', 'ALTER', 'CREATE VIEW', 'SHOW VIEW', 'TRIGGER', 'DELETE HISTORY'],
  routine: ['EXECUTE', 'ALTER ROUTINE'],
}

/** How the unit of an account's authentication starts: it holds the hash, so it is never shown. */
export const AUTH_UNIT = 'authentication '

const CANNOT = ": the replica's admin cannot grant it"
const MISSING = ': no such object on the replica (not copied, or not yet: run it again after datain start)'

const isAll = (name: string) => name === 'ALL PRIVILEGES' || name === 'ALL'

/** The privileges ALL PRIVILEGES gives on `on`, by the server's own list. */
export function allPrivileges(on: GrantTarget, known: ReadonlySet<string>): string[] {
  const list = on.level === 'global' ? [...known] : LEVEL_PRIVILEGES[on.level].filter((p) => known.has(p))
  return list.sort()
}

/** `*.*`, `` `db`.* ``, `` `db`.`t` ``, ``PROCEDURE `db`.`p` ``: names quoted again, never the server's text. */
export function renderTarget(on: GrantTarget): string {
  switch (on.level) {
    case 'global':
      return '*.*'
    case 'database':
      // The pattern keeps its `\_` escapes: GRANT reads them as SHOW GRANTS wrote them.
      return `${quoteIdentifier(on.pattern)}.*`
    case 'table':
      return quoteQualified(on.database, on.table)
    case 'routine':
      return `${on.kind} ${quoteQualified(on.database, on.name)}`
  }
}

export function renderPrivilege(item: PrivilegeItem): string {
  return item.columns ? `${item.name} (${item.columns.map(quoteIdentifier).join(', ')})` : item.name
}

/**
 * The grants the replica's admin can give, and what it cannot, as "PRIVILEGE ON target" texts. ALL
 * PRIVILEGES becomes the list of what the admin holds when it does not hold them all.
 */
export function grantable(
  definition: AccountDefinition,
  admin: AdminPowers,
  missingObjects: ReadonlySet<string>,
): {grants: PrivilegeGrant[]; leftOut: string[]} {
  const grants: PrivilegeGrant[] = []
  const leftOut: string[] = []
  for (const grant of definition.grants) {
    const target = renderTarget(grant.on)
    // GRANT on a table or routine the replica lacks fails (error 1146): one not copied, or not yet.
    if (missingObjects.has(target)) {
      leftOut.push(`${grant.privileges.map(renderPrivilege).join(', ')} ON ${target}${MISSING}`)
      continue
    }
    if (admin.all) {
      grants.push(grant)
      continue
    }
    const kept: PrivilegeItem[] = []
    for (const item of grant.privileges) {
      if (item.name === 'USAGE') continue
      if (isAll(item.name)) {
        const all = allPrivileges(grant.on, admin.known)
        const missing = all.filter((p) => !admin.grantable.has(p))
        if (missing.length === 0) kept.push(item)
        else {
          kept.push(...all.filter((p) => admin.grantable.has(p)).map((name) => ({name})))
          leftOut.push(...missing.map((p) => `${p} ON ${target} (of ALL PRIVILEGES)${CANNOT}`))
        }
      } else if (admin.grantable.has(item.name)) kept.push(item)
      else leftOut.push(`${renderPrivilege(item)} ON ${target}${CANNOT}`)
    }
    // Without a privilege held WITH GRANT OPTION the admin can pass on no grant option either.
    const grantOption = grant.grantOption && admin.grantable.size > 0
    if (grant.grantOption && !grantOption) leftOut.push(`WITH GRANT OPTION ON ${target}${CANNOT}`)
    if (kept.length > 0 || grantOption) grants.push({...grant, privileges: kept.length > 0 ? kept : [{name: 'USAGE'}], grantOption})
  }
  return {grants, leftOut}
}

/**
 * One text per privilege, column, role and option an account holds, so that two servers' SHOW
 * GRANTS compare as sets whatever order or grouping each one writes them in.
 */
export function definitionUnits(definition: AccountDefinition, known: ReadonlySet<string>): Set<string> {
  const units = new Set<string>()
  for (const grant of definition.grants) {
    // Routine names compare without regard to case, as in MariaDB.
    const target = renderTarget(grant.on.level === 'routine' ? {...grant.on, name: grant.on.name.toLowerCase()} : grant.on)
    for (const item of grant.privileges) {
      const names = isAll(item.name) ? allPrivileges(grant.on, known) : item.name === 'USAGE' ? [] : [item.name]
      for (const name of names) {
        // Column names compare without regard to case, as in MariaDB.
        if (item.columns) for (const column of item.columns) units.add(`${name} (${quoteIdentifier(column.toLowerCase())}) ON ${target}`)
        else units.add(`${name} ON ${target}`)
      }
    }
    if (grant.grantOption) units.add(`GRANT OPTION ON ${target}`)
  }
  for (const r of definition.roles) for (const role of r.roles) units.add(`role ${quoteIdentifier(role)}${r.adminOption ? ' WITH ADMIN OPTION' : ''}`)
  if (definition.defaultRole) units.add(`default role ${quoteIdentifier(definition.defaultRole)}`)
  if (definition.auth) units.add(`${AUTH_UNIT}${definition.auth.clause} ${JSON.stringify(definition.auth.values)} ${definition.auth.options}`)
  return units
}
