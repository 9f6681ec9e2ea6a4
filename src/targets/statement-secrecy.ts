import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../lib/errors.js'
import {isAccessDenied, isOn, sqlErrno} from '../lib/sql.js'

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


/** performance_schema's consumers that keep a statement's text (SQL_TEXT), password literals included. */
const TEXT_CONSUMERS = ['events_statements_current', 'events_statements_history', 'events_statements_history_long']

/**
 * Turns performance_schema's instrumentation of this session off (its own row of
 * performance_schema.threads, which the global UPDATE privilege allows), and returns how to turn it
 * back on: the statements in between reach no events_statements_* table and no digest. Throws
 * E_REPLICA_STATEMENT_HISTORY (exit 1) when consumers that keep statement texts are on and this
 * session may not do it. Nothing to do when performance_schema is off or the session is not
 * instrumented (setup_actors).
 */
export async function quietStatementHistory(conn: Connection, secretName: string): Promise<() => Promise<void>> {
  let instrumented: string | undefined
  try {
    const [on] = (await conn.query('SELECT @@global.performance_schema AS v')) as Array<{v: unknown}>
    if (!isOn(on?.v)) return async () => {}
    const [thread] = (await conn.query('SELECT INSTRUMENTED AS i FROM performance_schema.threads WHERE PROCESSLIST_ID = CONNECTION_ID()')) as Array<{i: string}>
    instrumented = thread?.i
  } catch (error) {
    // 1193: a server built without performance_schema. Denied reading it: the UPDATE below decides.
    if (sqlErrno(error) === 1193) return async () => {}
    if (!isAccessDenied(error)) throw error
  }
  if (instrumented === 'NO') return async () => {}
  const set = (value: 'YES' | 'NO') => conn.query(`UPDATE performance_schema.threads SET INSTRUMENTED = '${value}' WHERE PROCESSLIST_ID = CONNECTION_ID()`)
  try {
    await set('NO')
    return async () => {
      await set('YES')
    }
  } catch (error) {
    if (!isAccessDenied(error) && sqlErrno(error) !== 1227) throw error
  }
  const keeping = await textConsumersOn(conn)
  if (keeping === undefined) return async () => {}
  throw new DatainError(
    `The replica's performance_schema keeps the text of every statement (${keeping}), so the ${secretName} would be stored there in clear, ` +
      "and datain's replica user may not switch off the instrumentation of its own session (UPDATE on performance_schema.threads). " +
      "Grant it that (GRANT UPDATE ON performance_schema.threads TO <datain's replica user>), or turn those consumers off while datain links the replica " +
      "(UPDATE performance_schema.setup_consumers SET ENABLED = 'NO' WHERE NAME LIKE 'events_statements%'), run datain start again, and turn them back on afterwards. No flag overrides this.",
    {code: 'E_REPLICA_STATEMENT_HISTORY', exit: ExitCode.failed, suggestions: ["UPDATE performance_schema.setup_consumers SET ENABLED = 'NO' WHERE NAME LIKE 'events_statements%'; then run datain start again"]},
  )
}

/**
 * The statement consumers that would keep a text (on themselves and under global and thread
 * instrumentation), said for a message; undefined when none is. Unreadable counts as on.
 */
async function textConsumersOn(conn: Connection): Promise<string | undefined> {
  let rows: Array<{NAME: string}>
  try {
    rows = (await conn.query("SELECT NAME FROM performance_schema.setup_consumers WHERE ENABLED = 'YES'")) as Array<{NAME: string}>
  } catch (error) {
    if (isAccessDenied(error)) return 'or may: datain may not read performance_schema.setup_consumers'
    throw error
  }
  const on = new Set(rows.map((r) => r.NAME))
  if (!on.has('global_instrumentation') || !on.has('thread_instrumentation')) return undefined
  const keeping = TEXT_CONSUMERS.filter((name) => on.has(name))
  return keeping.length === 0 ? undefined : `${keeping.join(', ')} ON`
}
