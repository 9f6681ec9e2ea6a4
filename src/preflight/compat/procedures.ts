import type {Connection} from 'mariadb'
import {canExecute, grantsPrivilege, parseGrants} from '../grants.js'
import {parseUserAtHost, quoteAccount, quoteQualified, type Account} from '../../lib/sql.js'
import type {Check, CheckResult} from '../check.js'
import {listText} from '../../lib/format.js'
import {findReplicationProcedures, PROCEDURE_PREFIX, REPLICATION_PROCEDURES, requiredProcedures} from '../../targets/azure-mariadb/procedures.js'
import {mismatchedProcedures, readProcedureSignatures, signatureText} from '../../targets/azure-mariadb/procedure-signatures.js'
import {foldsNameCase} from './tables.js'

async function currentAccount(conn: Connection): Promise<Account> {
  const [row] = (await conn.query('SELECT CURRENT_USER() AS account')) as Array<{account: string}>
  // The account the server knows, as GRANT names it: on Azure the plain `admin`, not the login
  // `admin@server` the gateway routed. A user name may still hold '@': the host is after the last one.
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
  targets: ['azure-mariadb'],
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
    return signaturesOutcome(replica, {schema, names, required, optional, who, where, runnable, grantFix})
  },
}

interface Found {
  schema: string
  names: Set<string>
  required: string[]
  optional: string
  who: string
  where: string
  runnable(name: string): boolean
  grantFix(procs: string[]): string
}

/**
 * The rest of the check once every procedure is there and executable: each declared with the
 * parameters datain passes (information_schema.PARAMETERS), and the optional skip procedure usable.
 * When the replica does not show the parameters, the check says so and goes on as before.
 */
async function signaturesOutcome(replica: Connection, f: Found): Promise<Omit<CheckResult, 'id' | 'title'>> {
  const {schema, names, required, optional, who, where} = f
  const qualified = (name: string) => `${schema}.${name}`
  const present = names.has(optional) ? [...required, optional] : required
  const signatures = await readProcedureSignatures(replica, schema, present)
  const wrong = mismatchedProcedures(signatures, required)
  if (wrong.length > 0 && signatures.visible) {
    return {
      status: 'fail',
      message: `${where}, but ${wrong.map((name) => signatureText(schema, name, signatures.declared.get(name.toLowerCase()) ?? [])).join('; ')}.`,
      fix: "datain does not guess how to call a procedure it does not know (E_PROCEDURE_SIGNATURE): check that the replica is an Azure Database for MariaDB server and that nobody replaced Azure's procedures.",
      offenders: wrong.map(qualified),
    }
  }
  const unseen = signatures.visible
    ? ''
    : ` (${signatures.why} to ${who}, so datain could not compare their parameters with the calls it makes, and goes on as if they match)`
  const base = `${where}, and ${who} may EXECUTE ${listText(required)}${unseen}`
  const skipWrong = names.has(optional) && mismatchedProcedures(signatures, [optional]).length > 0
  if (!names.has(optional) || !f.runnable(optional) || skipWrong) {
    const absent = !names.has(optional)
    const why = absent ? 'is missing' : skipWrong ? 'is declared with parameters datain does not pass' : 'is not executable'
    return {
      status: 'warn',
      message: `${base}; ${qualified(optional)} ${why}, so a replication error cannot be skipped through Azure, only fixed by re-linking.`,
      fix: absent || skipWrong
        ? 'Nothing blocks the setup; if a replication error ever needs skipping, open an Azure support request or re-run datain start after a fresh snapshot.'
        : f.grantFix([optional]),
      offenders: [qualified(optional)],
    }
  }
  return {status: 'pass', message: `${where}, and ${who} may EXECUTE ${listText([...required, optional])}${unseen}.`}
}
