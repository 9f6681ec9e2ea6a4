import type {Connection} from 'mariadb'
import {databasePatternMatches, grantsPrivilege, parseGrantLine, parseGrants, type PrivilegeGrant} from '../grants.js'
import {
  globalVariables,
  parseUserAtHost,
  parseVersion,
  quoteAccount,
  quoteGrantDatabase,
  quoteIdentifier,
  quoteQualified,
  sqlErrno,
  versionAtLeast,
} from '../../lib/sql.js'
import type {Check} from '../check.js'
import {plural} from '../../lib/format.js'

/** What the snapshot needs on each selected database (mariadb-dump with views, triggers and events). */
const DATA_PRIVILEGES = ['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT'] as const

const REPLICATION_WHY = 'REPLICATION SLAVE with the grant option lets datain give REPLICATION SLAVE to the replication user'

interface Missing {
  /** The offender as reported, e.g. `RELOAD on *.*`. */
  label: string
  /** Why a step needs it. */
  why: string
}

/**
 * Does the source user hold what the steps need? Reads SHOW GRANTS for the current user, for the
 * role its login enabled (its default role) and the roles that role holds, and for PUBLIC.
 */
export const sourcePrivileges: Check = {
  id: 'source-privileges',
  title: 'Privileges of the source user',
  needs: [],
  async run(ctx) {
    const source = ctx.source
    const [who] = await source.query<Array<{user: string; role: string | null; version: string}>>(
      'SELECT CURRENT_USER() AS user, CURRENT_ROLE() AS role, VERSION() AS version',
    )
    const account = parseUserAtHost(who!.user)
    const grants = await readGrants(source, who!.role)
    const lowerCase = (await globalVariables(source, ['lower_case_table_names'])).lower_case_table_names ?? '0'
    const caseInsensitive = lowerCase !== '0'
    // BINLOG MONITOR is REPLICATION CLIENT's name from 10.5.2 on; SHOW GRANTS writes the server's own spelling.
    const version = parseVersion(who!.version)
    const binlogPrivilege = version && versionAtLeast(version, 10, 5, 2) ? 'BINLOG MONITOR' : 'REPLICATION CLIENT'

    const globalGrants = grants.filter((g) => g.on.level === 'global')
    const holdsGlobal = (privilege: string) => globalGrants.some((g) => grantsPrivilege(g, privilege))
    const holdsOnDatabase = (privilege: string, database: string) =>
      grants.some((g) => g.on.level === 'database' && databasePatternMatches(g.on.pattern, database, {caseInsensitive}) && grantsPrivilege(g, privilege))
    const holdsOn = (privilege: string, database: string) => holdsGlobal(privilege) || holdsOnDatabase(privilege, database)
    const same = (a: string, b: string) => (caseInsensitive ? a.toLowerCase() === b.toLowerCase() : a === b)

    const missing: Missing[] = []
    const statements: string[] = []
    const global = missingGlobal(holdsGlobal, globalGrants.some((g) => g.grantOption), binlogPrivilege)
    missing.push(...global.missing)
    if (global.grant) statements.push(`GRANT ${global.grant} ON *.* TO ${quoteAccount(account)}${global.withGrantOption ? ' WITH GRANT OPTION' : ''};`)

    // mariadb-dump --routines reads routine bodies from mysql.proc; only their definer sees them otherwise.
    const readsRoutines =
      holdsGlobal('SELECT') ||
      holdsGlobal('SHOW CREATE ROUTINE') ||
      holdsOnDatabase('SELECT', 'mysql') ||
      grants.some((g) => g.on.level === 'table' && same(g.on.database, 'mysql') && same(g.on.table, 'proc') && grantsPrivilege(g, 'SELECT'))
    if (!readsRoutines) {
      missing.push({label: 'SELECT on `mysql`.`proc`', why: 'SELECT on mysql.proc lets mariadb-dump copy the stored routines'})
      statements.push(`GRANT SELECT ON ${quoteQualified('mysql', 'proc')} TO ${quoteAccount(account)};`)
    }

    for (const database of ctx.databases) {
      const lacking = DATA_PRIVILEGES.filter((p) => !holdsOn(p, database))
      if (lacking.length === 0) continue
      for (const p of lacking) missing.push({label: `${p} on ${quoteIdentifier(database)}.*`, why: 'SELECT, SHOW VIEW, TRIGGER and EVENT let mariadb-dump copy the tables, views, triggers and events'})
      statements.push(`GRANT ${lacking.join(', ')} ON ${quoteGrantDatabase(database)}.* TO ${quoteAccount(account)};`)
    }

    const grantee = quoteAccount(account)
    if (missing.length === 0) {
      const seen = [...new Set(globalGrants.flatMap((g) => [...g.privileges]))].filter((p) => p !== 'USAGE')
      return {
        status: 'pass',
        message:
          `${grantee} holds every privilege the steps need on *.* and on ${plural(ctx.databases.length, 'selected database')} ` +
          `(global privileges seen: ${seen.length > 0 ? seen.join(', ') : 'none'}${who!.role ? `; role ${quoteIdentifier(who!.role)} active` : ''}).`,
      }
    }
    const reasons = [...new Set(missing.map((m) => m.why))]
    return {
      status: 'fail',
      message: `${grantee} lacks ${plural(missing.length, 'privilege')} the steps need: ${missing.map((m) => m.label).join(', ')}.`,
      fix:
        `Run as an administrator on the source: ${statements.join(' ')} ` +
        `Why: ${reasons.join('; ')}; LOCK TABLES is not needed, the snapshot uses --single-transaction.`,
      offenders: missing.map((m) => m.label),
    }
  },
}

/**
 * The global privileges the steps need that the source user lacks, and what one GRANT on *.* must
 * give (`grant`, and whether WITH GRANT OPTION): REPLICATION SLAVE must be held with the grant option.
 */
function missingGlobal(
  holdsGlobal: (privilege: string) => boolean,
  grantOption: boolean,
  binlogPrivilege: string,
): {missing: Missing[]; grant?: string; withGrantOption: boolean} {
  const missing: Missing[] = []
  const globalToGrant: string[] = []
  let needsGrantOption = false
  if (!['BINLOG MONITOR', 'REPLICATION CLIENT', 'SUPER'].some(holdsGlobal)) {
    missing.push({label: `${binlogPrivilege} on *.*`, why: `${binlogPrivilege} reads the binary log coordinates of the snapshot`})
    globalToGrant.push(binlogPrivilege)
  }
  if (!holdsGlobal('RELOAD')) {
    missing.push({label: 'RELOAD on *.*', why: "RELOAD allows the snapshot's brief FLUSH TABLES WITH READ LOCK (mariadb-dump --single-transaction --master-data=2)"})
    globalToGrant.push('RELOAD')
  }
  if (!holdsGlobal('CREATE USER')) {
    missing.push({label: 'CREATE USER on *.*', why: 'CREATE USER creates the replication user'})
    globalToGrant.push('CREATE USER')
  }
  if (!holdsGlobal('REPLICATION SLAVE')) {
    missing.push({label: `REPLICATION SLAVE${grantOption ? '' : ' WITH GRANT OPTION'} on *.*`, why: REPLICATION_WHY})
    globalToGrant.push('REPLICATION SLAVE')
    needsGrantOption = !grantOption
  } else if (!grantOption) {
    missing.push({label: 'GRANT OPTION on *.*', why: REPLICATION_WHY})
    globalToGrant.push('REPLICATION SLAVE')
    needsGrantOption = true
  }
  return {missing, grant: globalToGrant.length > 0 ? globalToGrant.join(', ') : undefined, withGrantOption: needsGrantOption}
}

/** The privilege grants that apply on this connection: the user's, the active role's (and the roles it holds), PUBLIC's. */
async function readGrants(source: Connection, activeRole: string | null): Promise<PrivilegeGrant[]> {
  const lines: string[] = []
  const show = async (sql: string, values?: unknown[]) => {
    const rows: Array<Record<string, string>> = await source.query(sql, values)
    for (const row of rows) lines.push(...Object.values(row))
  }
  await show('SHOW GRANTS FOR CURRENT_USER')

  const seenRoles = new Set<string>()
  const queue = activeRole ? [activeRole] : []
  while (queue.length > 0) {
    const role = queue.shift()!
    if (seenRoles.has(role)) continue
    seenRoles.add(role)
    const before = lines.length
    // The connector binds the role name as a quoted string: SHOW GRANTS FOR 'name' names the role.
    await show('SHOW GRANTS FOR ?', [role])
    for (const line of lines.slice(before)) {
      const parsed = parseGrantLine(line)
      if (parsed?.kind === 'role') queue.push(...parsed.roles)
    }
  }

  try {
    await show('SHOW GRANTS FOR PUBLIC')
  } catch (error) {
    // PUBLIC exists from 10.11 on; older servers answer with a syntax error (1064) or "no such grant" (1141).
    if (sqlErrno(error) !== 1064 && sqlErrno(error) !== 1141) throw error
  }

  return parseGrants(lines)
}
