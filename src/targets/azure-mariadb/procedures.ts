import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../../lib/errors.js'
import {redact} from '../../lib/redact.js'
import {compareText, quoteQualified, quoteString, sqlErrno} from '../../lib/sql.js'
import {quietSlowLog} from '../statement-secrecy.js'

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

/**
 * The schema that holds Azure's procedures on this replica (found by name: `mysql` on Azure,
 * `mariadb` in one of its documents), checked to hold every one of `needed`. E_NO_PROCEDURES (exit 1)
 * otherwise.
 */
export async function replicationProcedureSchema(replica: Connection, needed: readonly string[]): Promise<string> {
  const found = await findReplicationProcedures(replica)
  const missing = needed.filter((name) => !found?.names.has(name))
  if (!found || missing.length > 0) {
    throw new DatainError(
      `The replica lacks Azure's replication procedure${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` +
        (found ? ` (schema '${found.schema}' holds only ${[...found.names].sort().join(', ')})` : ' (no az_replication_* procedure is visible in any schema)') +
        '. Check that the replica is an Azure Database for MariaDB server in General Purpose or Memory Optimized and that datain connects as its admin; ' +
        "'datain init' reports this as the procedures check.",
      {code: 'E_NO_PROCEDURES', exit: ExitCode.failed},
    )
  }
  return found.schema
}

/** `CALL `schema`.`name`(…)` with the values shown as given (already masked by the caller), for plans and the journal. */
export function procedureCallText(schema: string, name: string, shown: ReadonlyArray<string | number>): string {
  const args = shown.map((v) => (typeof v === 'number' || /^<.*>$|^\*\*\*$/.test(v) ? String(v) : quoteString(v)))
  return `CALL ${quoteQualified(schema, name)}(${args.join(', ')})`
}

export interface CallOptions {
  /** The arguments hold a secret: keep MariaDB from writing their values into the statement text. */
  secret?: boolean
}

/**
 * Calls one of Azure's procedures with every argument a bound parameter (binary protocol, `?` in the
 * statement). With `secret`, the server is also kept from expanding the values into the statement
 * text: MariaDB decides at PREPARE time to substitute the values into the text it shows in the
 * process list and writes to its logs when the general log or the session's slow log is on
 * (`opt_log || sql_log_slow`, sql_prepare.cc); datain switches the session's slow log off around a
 * fresh PREPARE, and refuses beforehand when the general log is on (see {@link assertStatementLogsOff}).
 * A failure is a DatainError with the server's message only: the connector's own message lists the
 * bound values, so it never leaves this function.
 */
export async function callProcedure(replica: Connection, schema: string, name: string, args: unknown[], options: CallOptions = {}): Promise<void> {
  const sql = `CALL ${quoteQualified(schema, name)}(${args.map(() => '?').join(', ')})`
  let restore = async () => {}
  try {
    if (options.secret) restore = await quietSlowLog(replica)
    // prepare() rather than execute(): a statement taken from the connector's cache could have been
    // prepared while the slow log was on, and so expand its values.
    const statement = await replica.prepare(options.secret ? `${sql} /* datain ${process.pid}-${Date.now()} */` : sql)
    try {
      await statement.execute(args)
    } finally {
      statement.close()
    }
  } catch (error) {
    throw procedureError(schema, name, error)
  } finally {
    // Only this session's setting: should the connection be gone, so is the setting, and the error above says why.
    await restore().catch(() => {})
  }
}

function procedureError(schema: string, name: string, error: unknown): DatainError {
  const errno = sqlErrno(error)
  const e = error as {sqlMessage?: string; message?: string; code?: string}
  // sqlMessage is the server's text alone; `message` adds the statement and its bound values.
  const text = redact(e.sqlMessage ?? (errno === undefined ? String(e.code ?? 'connection error') : ''))
  const cause = Object.assign(new Error(text), {errno, code: e.code})
  const call = `${schema}.${name}`
  if (errno === 1370 || errno === 1044 || errno === 1227) {
    return new DatainError(`The replica did not let datain run ${call} (error ${errno}: ${text}). Run datain as the server admin, or grant it EXECUTE on the procedure.`, {
      code: 'E_PROCEDURE_DENIED',
      exit: ExitCode.failed,
      cause,
      suggestions: [`GRANT EXECUTE ON PROCEDURE ${quoteQualified(schema, name)} TO <datain's user>`],
    })
  }
  return new DatainError(`The replica refused ${call}${errno === undefined ? '' : ` (error ${errno})`}: ${text}`, {
    code: 'E_PROCEDURE_FAILED',
    exit: errno === undefined ? ExitCode.unreachable : ExitCode.failed,
    cause,
  })
}
