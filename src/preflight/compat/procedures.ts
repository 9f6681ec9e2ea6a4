import type {Connection} from 'mariadb'
import {canExecute, grantsPrivilege, parseGrants} from '../../lib/grants.js'
import {parseUserAtHost, quoteAccount, quoteQualified, type Account} from '../../lib/sql.js'
import type {Check} from '../check.js'
import {listText} from '../format.js'
import {compareText, foldsNameCase} from './tables.js'

export const PROCEDURE_PREFIX = 'az_replication_'

/** Azure's procedure names (reference/azure.md §1.1). */
export const REPLICATION_PROCEDURES = {
  changeMaster: 'az_replication_change_master',
  changeMasterWithGtid: 'az_replication_change_master_with_gtid',
  start: 'az_replication_start',
  stop: 'az_replication_stop',
  removeMaster: 'az_replication_remove_master',
  skipCounter: 'az_replication_skip_counter',
} as const

/**
 * Where the replica keeps Azure's `az_replication_*` procedures, looked up by name in every schema:
 * Azure has them in `mysql`, one of its documents says `mariadb`. information_schema.ROUTINES and
 * SHOW PROCEDURE STATUS are read both, as a cross-check; both list only what the user may see.
 * When several schemas hold some, the one with the most wins (`mysql` on a tie). Undefined when
 * none is visible.
 */
export async function findReplicationProcedures(conn: Connection): Promise<{schema: string; names: Set<string>} | undefined> {
  // `\_`: in LIKE an unescaped `_` matches any character.
  const like = `${PROCEDURE_PREFIX.replaceAll('_', '\\_')}%`
  const [routines, status] = await Promise.all([
    conn.query("SELECT ROUTINE_SCHEMA AS db, ROUTINE_NAME AS name FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'PROCEDURE' AND ROUTINE_NAME LIKE ?", [like]) as Promise<
      Array<{db: string; name: string}>
    >,
    conn.query('SHOW PROCEDURE STATUS WHERE Name LIKE ?', [like]) as Promise<Array<{Db: string; Name: string}>>,
  ])
  const bySchema = new Map<string, Set<string>>()
  for (const {db, name} of [...routines, ...status.map((r) => ({db: r.Db, name: r.Name}))]) {
    const names = bySchema.get(db) ?? new Set<string>()
    names.add(name.toLowerCase())
    bySchema.set(db, names)
  }
  const ranked = [...bySchema.entries()].sort(
    ([a, x], [b, y]) => y.size - x.size || Number(b.toLowerCase() === 'mysql') - Number(a.toLowerCase() === 'mysql') || compareText(a, b),
  )
  const best = ranked[0]
  return best ? {schema: best[0], names: best[1]} : undefined
}

/** The procedures the link, replicate and stop steps call, for the replication mode. */
export function requiredProcedures(gtid: boolean): string[] {
  const p = REPLICATION_PROCEDURES
  return [gtid ? p.changeMasterWithGtid : p.changeMaster, p.start, p.stop, p.removeMaster]
}

async function currentAccount(conn: Connection): Promise<Account> {
  const [row] = (await conn.query('SELECT CURRENT_USER() AS account')) as Array<{account: string}>
  // Azure's user names hold '@' themselves (admin@server): the host is after the last one.
  return parseUserAtHost(row!.account)
}

async function grantLines(conn: Connection): Promise<string[]> {
  const rows = (await conn.query('SHOW GRANTS')) as Array<Record<string, string>>
  return rows.map((row) => String(Object.values(row)[0]))
}

export const proceduresCheck: Check = {
  id: 'procedures',
  title: "Replica has Azure's az_replication_* procedures",
  needs: ['replica'],
  async run(ctx) {
    const replica = ctx.replica!
    const [found, account, lines, foldCase] = await Promise.all([findReplicationProcedures(replica), currentAccount(replica), grantLines(replica), foldsNameCase(replica)])
    const grants = parseGrants(lines)
    const who = quoteAccount(account)
    const required = requiredProcedures(ctx.settings.gtid)
    const optional = REPLICATION_PROCEDURES.skipCounter
    const mode = ctx.settings.gtid ? 'GTID mode' : 'file/position mode (--no-gtid)'

    if (!found) {
      // EXECUTE is no table privilege: only global, database and routine grants can give it.
      const executesAnything = grants.some((g) => g.on.level !== 'table' && grantsPrivilege(g, 'EXECUTE'))
      return {
        status: 'fail',
        message:
          `None of Azure's ${PROCEDURE_PREFIX}* procedures is visible to ${who} on the replica, in any schema` +
          (executesAnything ? '.' : `; ${who} holds no EXECUTE privilege, and MariaDB hides routines from users who hold no privilege on them.`),
        fix:
          `Check that --replica-host and --server name an Azure Database for MariaDB server (Azure installs the procedures in the mysql schema of every General Purpose and Memory Optimized server)` +
          (executesAnything ? '' : `, and connect as the server admin, or grant ${who} EXECUTE on them as the server admin`) +
          '; if an Azure server lacks them, open a support request.',
        offenders: [...required],
      }
    }

    const {schema, names} = found
    const qualified = (name: string) => `${schema}.${name}`
    const runnable = (name: string) => canExecute(grants, schema, name, {caseInsensitiveDatabases: foldCase})
    const missing = required.filter((name) => !names.has(name))
    const denied = required.filter((name) => names.has(name) && !runnable(name))
    const grantFix = (procs: string[]) =>
      `Run as the server admin on the replica:\n${procs.map((name) => `GRANT EXECUTE ON PROCEDURE ${quoteQualified(schema, name)} TO ${who};`).join('\n')}`

    if (missing.length > 0 || denied.length > 0) {
      const parts = [
        missing.length > 0 ? `${listText(missing.map(qualified))} ${missing.length > 1 ? 'are' : 'is'} missing` : '',
        denied.length > 0 ? `${who} may not EXECUTE ${listText(denied.map(qualified))}` : '',
      ].filter(Boolean)
      const fixes = [
        missing.length > 0
          ? `The replica lacks procedures that ${mode} calls: check that it is an Azure Database for MariaDB server in General Purpose or Memory Optimized, and open a support request if Azure's own server lacks them` +
            (ctx.settings.gtid && missing.includes(REPLICATION_PROCEDURES.changeMasterWithGtid) && names.has(REPLICATION_PROCEDURES.changeMaster)
              ? `; ${REPLICATION_PROCEDURES.changeMaster} is there, so --no-gtid works without the GTID variant.`
              : '.')
          : '',
        denied.length > 0 ? grantFix(denied) : '',
      ].filter(Boolean)
      return {
        status: 'fail',
        message: `Azure's replication procedures are in schema '${schema}' on the replica, but ${parts.join(', and ')}, which ${mode} calls.`,
        fix: fixes.join('\n'),
        offenders: [...missing, ...denied].map(qualified),
      }
    }

    const where = `Azure's replication procedures are in schema '${schema}' on the replica`
    const base = `${where}, and ${who} may EXECUTE ${listText(required)}`
    if (!names.has(optional) || !runnable(optional)) {
      const absent = !names.has(optional)
      return {
        status: 'warn',
        message: `${base}; ${qualified(optional)} ${absent ? 'is missing' : 'is not executable'}, so a replication error cannot be skipped through Azure, only fixed by re-linking.`,
        fix: absent
          ? 'Nothing blocks the setup; if a replication error ever needs skipping, open an Azure support request or re-run datain start after a fresh snapshot.'
          : grantFix([optional]),
        offenders: [qualified(optional)],
      }
    }
    return {status: 'pass', message: `${where}, and ${who} may EXECUTE ${listText([...required, optional])}.`}
  },
}
