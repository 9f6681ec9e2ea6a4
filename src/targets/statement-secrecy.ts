import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../lib/errors.js'
import {isOn, sqlErrno} from '../lib/sql.js'

/**
 * Throws E_REPLICA_GENERAL_LOG (exit 1) when the replica's general query log is on: MariaDB then
 * writes a prepared statement's bound values into it (and into the process list), so a password
 * passed to Azure's procedure would be stored in clear in the server's logs. No flag overrides it:
 * a password in a log outlives the run that accepted it.
 */
export async function assertStatementLogsOff(replica: Connection, options: StatementLogWords): Promise<void> {
  const [row] = (await replica.query('SELECT @@global.general_log AS general')) as Array<{general: unknown}>
  if (!isOn(row?.general)) return
  const why = `The replica's general query log is on (general_log=ON): MariaDB writes ${options.written} into it, so the ${options.secretName} would be stored there in clear`
  throw new DatainError(`${why}. Turn the general log off while datain links the replica (${options.howToTurnOff}), run datain start again, and turn it back on afterwards. No flag overrides this.`, {
    code: 'E_REPLICA_GENERAL_LOG',
    exit: ExitCode.failed,
    suggestions: [options.suggestion],
  })
}

/** How a target says what the general log would hold, and how to turn it off there. */
export interface StatementLogWords {
  /** What MariaDB writes: "the values of a prepared statement's parameters". */
  written: string
  /** "replication user's password that datain passes to Azure's procedure". */
  secretName: string
  howToTurnOff: string
  suggestion: string
}

/**
 * Switches this session's slow log off (`log_slow_query` from 10.11, `sql_log_slow` before), and
 * returns how to switch it back. Nothing to do on a server that has neither.
 */
export async function quietSlowLog(conn: Connection): Promise<() => Promise<void>> {
  const rows = (await conn.query("SHOW SESSION VARIABLES WHERE Variable_name IN ('log_slow_query', 'sql_log_slow')")) as Array<{Variable_name: string; Value: string}>
  const variable = rows.find((r) => r.Variable_name === 'log_slow_query') ?? rows.find((r) => r.Variable_name === 'sql_log_slow')
  if (!variable) return async () => {}
  const name = variable.Variable_name === 'log_slow_query' ? 'log_slow_query' : 'sql_log_slow'
  const before = isOn(variable.Value) ? 1 : 0
  if (before === 0) return async () => {}
  try {
    await conn.query(`SET SESSION ${name} = 0`)
  } catch (error) {
    // A server that does not let this session switch it (1227) or lacks it after all (1193): the
    // general log check still holds; only a slow log that is on could then see the values.
    if (sqlErrno(error) === 1227 || sqlErrno(error) === 1193) return async () => {}
    throw error
  }
  return async () => {
    await conn.query(`SET SESSION ${name} = ${before}`)
  }
}

