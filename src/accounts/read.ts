import type {Connection} from 'mariadb'
import {registerSecret} from '../lib/redact.js'
import {type Account, parseUserAtHost, sameAccount, sqlErrno} from '../lib/sql.js'
import {renderTarget} from './grants.js'
import {type Authentication, type DefaultRole, parseCreateUser, parseGrantLine, type PrivilegeGrant, type RoleGrant} from './parse.js'

/** An account or role as one server has it: how it logs in and what it was granted. */
export interface AccountDefinition {
  account: Account
  role: boolean
  /** Users only. */
  auth?: Authentication
  grants: PrivilegeGrant[]
  roles: RoleGrant[]
  defaultRole?: string
  /** SHOW GRANTS lines datain does not copy (GRANT PROXY): listed as left out, never dropped silently. */
  unsupported: string[]
}

/** 1141: no such grant; 1133: no such user (SHOW CREATE USER); 1396: the operation failed for that account. */
const ABSENT = new Set([1141, 1133, 1396])

/** `?@?` or `?` with the values to bind: account names go as bound strings, never spliced. */
export function accountParam(account: Account): {sql: string; values: string[]} {
  return account.host === undefined ? {sql: '?', values: [account.user]} : {sql: '?@?', values: [account.user, account.host]}
}

/**
 * Reads one account (or role) with SHOW CREATE USER and SHOW GRANTS FOR, the server's own form;
 * undefined when the server has no such account. See {@link registerHashes}.
 */
export async function readDefinition(conn: Connection, account: Account, role: boolean): Promise<AccountDefinition | undefined> {
  const who = accountParam(account)
  let grantRows: Array<Record<string, string>>
  try {
    grantRows = await conn.query(`SHOW GRANTS FOR ${who.sql}`, who.values)
  } catch (error) {
    if (ABSENT.has(sqlErrno(error) ?? 0)) return undefined
    throw error
  }
  const definition: AccountDefinition = {account, role, grants: [], roles: [], unsupported: []}
  for (const row of grantRows) {
    const line = Object.values(row)[0] ?? ''
    const grant = parseGrantLine(line)
    if (!grant) definition.unsupported.push(line)
    // SHOW GRANTS FOR a role lists the grants of the roles it holds too: keep only this account's own.
    if (!grant || !sameAccount(grant.to, account)) continue
    if (grant.kind === 'privileges') definition.grants.push(grant)
    else if (grant.kind === 'role') definition.roles.push(grant)
    else definition.defaultRole = (grant as DefaultRole).role
  }
  if (!role) definition.auth = await readAuthentication(conn, account)
  return definition
}

async function readAuthentication(conn: Connection, account: Account): Promise<Authentication | undefined> {
  const who = accountParam(account)
  const rows: Array<Record<string, string>> = await conn.query(`SHOW CREATE USER ${who.sql}`, who.values)
  const parsed = parseCreateUser(Object.values(rows[0] ?? {})[0] ?? '')
  return parsed?.auth
}

/**
 * Registers an account's hashes as secrets so that nothing datain prints shows them. Strings shorter
 * than any hash are markers, not secrets (mariadb-install-db's `invalid`): masking them would mask
 * that word in every message.
 */
export function registerHashes(definition: AccountDefinition | undefined): void {
  for (const value of definition?.auth?.values ?? []) if (value.length >= 16) registerSecret(value)
}

/** What the replica's admin may hand on: GRANT gives only what the grantor holds WITH GRANT OPTION. */
export interface AdminPowers {
  account: Account
  /** ALL PRIVILEGES ON *.* WITH GRANT OPTION: a self-managed root, which may give anything. */
  all: boolean
  /** Global privileges held WITH GRANT OPTION. */
  grantable: Set<string>
  /** Every privilege the server knows (SHOW PRIVILEGES), for ALL PRIVILEGES. */
  known: Set<string>
}

export async function readAdminPowers(replica: Connection): Promise<AdminPowers> {
  const [row] = (await replica.query('SELECT CURRENT_USER() AS user')) as Array<{user: string}>
  const account = parseUserAtHost(row!.user)
  const rows: Array<Record<string, string>> = await replica.query('SHOW GRANTS FOR CURRENT_USER()')
  const grantable = new Set<string>()
  let all = false
  for (const r of rows) {
    const grant = parseGrantLine(Object.values(r)[0] ?? '')
    if (grant?.kind !== 'privileges' || grant.on.level !== 'global' || !grant.grantOption || !sameAccount(grant.to, account)) continue
    for (const p of grant.privileges) {
      if (p.name === 'ALL PRIVILEGES' || p.name === 'ALL') all = true
      else if (!p.columns) grantable.add(p.name)
    }
  }
  const privileges: Array<{Privilege: string}> = await replica.query('SHOW PRIVILEGES')
  const known = new Set(privileges.map((p) => p.Privilege.toUpperCase()).filter((p) => !['USAGE', 'GRANT OPTION', 'PROXY'].includes(p)))
  return {account, all, grantable, known}
}

/**
 * The tables and routines that grants name but the replica lacks, as {@link renderTarget} writes
 * them: GRANT on them fails (error 1146), so they are left out and listed instead.
 */
export async function missingObjects(replica: Connection, definitions: readonly AccountDefinition[]): Promise<Set<string>> {
  const missing = new Set<string>()
  const seen = new Set<string>()
  for (const grant of definitions.flatMap((d) => d.grants)) {
    const on = grant.on
    const target = renderTarget(on)
    if (seen.has(target) || (on.level !== 'table' && on.level !== 'routine')) continue
    seen.add(target)
    // Packages exist only in Oracle mode and have no row of their own to look up: the GRANT says.
    if (on.level === 'routine' && on.kind.startsWith('PACKAGE')) continue
    const rows: unknown[] =
      on.level === 'table'
        ? await replica.query('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [on.database, on.table])
        : await replica.query('SELECT 1 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_NAME = ? AND ROUTINE_TYPE = ?', [
            on.database,
            on.name,
            on.kind,
          ])
    if (rows.length === 0) missing.add(target)
  }
  return missing
}
