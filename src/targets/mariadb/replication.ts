import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../../lib/errors.js'
import {MASK, redact} from '../../lib/redact.js'
import {sqlErrno} from '../../lib/sql.js'
import {assertStatementLogsOff, quietSlowLog, quietStatementHistory} from '../statement-secrecy.js'
import type {LinkSpec, PlannedLinkSpec, ReplicationAction, ReplicationControls, ReplicationDriver, ReplicationTexts} from '../target.js'

/** The statements behind each control but `link`, in order; the control is named after the one that does its work. */
const CONTROLS: Record<Exclude<ReplicationAction, 'link'>, {name: string; statements: string[]}> = {
  start: {name: 'START SLAVE', statements: ['START SLAVE']},
  stop: {name: 'STOP SLAVE', statements: ['STOP SLAVE']},
  // RESET SLAVE ALL refuses while the threads run.
  remove: {name: 'RESET SLAVE ALL', statements: ['STOP SLAVE', 'RESET SLAVE ALL']},
  // One event group, then the SQL thread again: what Azure's az_replication_skip_counter does.
  skip: {name: 'SET GLOBAL sql_slave_skip_counter = 1', statements: ['SET GLOBAL sql_slave_skip_counter = 1', 'START SLAVE']},
}

/** What MariaDB 10.11 asks of the replica's user for each control (found by running them without). */
const NEEDS: Record<ReplicationAction, string> = {
  link: 'REPLICATION SLAVE ADMIN',
  start: 'REPLICATION SLAVE ADMIN',
  stop: 'REPLICATION SLAVE ADMIN',
  remove: 'RELOAD and REPLICATION SLAVE ADMIN',
  skip: 'SUPER (MariaDB 10.11 lets nothing else set sql_slave_skip_counter)',
}

const GENERAL_LOG_WORDS = {
  written: 'every statement, CHANGE MASTER TO with its MASTER_PASSWORD included,',
  secretName: "replication user's password",
  howToTurnOff: 'SET GLOBAL general_log = OFF',
  suggestion: 'SET GLOBAL general_log = OFF; then run datain start again',
}

export interface MariadbLinkOptions {
  /** `--link-ssl-ca`: the source's CA as a file on the replica's host; with it the link verifies the source's certificate. */
  linkSslCa?: string
}

/** A replica the DBA administers: CHANGE MASTER TO, START/STOP SLAVE, RESET SLAVE ALL, sql_slave_skip_counter. */
export function mariadbReplication(options: MariadbLinkOptions): ReplicationDriver {
  return {
    async open(replica) {
      return controls(replica, options)
    },
    planned: () => texts(options),
  }
}

function texts(options: MariadbLinkOptions): ReplicationTexts {
  return {
    where: 'CHANGE MASTER TO',
    name: (action) => (action === 'link' ? 'CHANGE MASTER TO' : CONTROLS[action].name),
    linkSecrecy:
      'CHANGE MASTER TO takes no placeholder: the password is a literal, so the general log must be off, and the session slow log and the ' +
      "session's performance_schema instrumentation are switched off around it; " +
      'the process list shows it while the statement runs',
    // Typed or run, a plain replica's control is the same statements.
    command: (action) => CONTROLS[action].statements.join('; '),
    statement: (action) => CONTROLS[action].statements.join('; '),
    linkStatement: (spec: PlannedLinkSpec) => {
      const position = spec.mode === 'gtid' ? {mode: 'gtid' as const, gtid: String(spec.position[0] ?? '')} : {mode: 'file' as const, file: String(spec.position[0] ?? ''), position: spec.position[1] ?? 0}
      const setGtid = position.mode === 'gtid' ? `SET GLOBAL gtid_slave_pos = ${literal(position.gtid)}; ` : ''
      return setGtid + changeMaster({...spec, position: position as LinkSpec['position']}, MASK, options, true)
    },
  }
}

function controls(replica: Connection, options: MariadbLinkOptions): ReplicationControls {
  const run = async (action: Exclude<ReplicationAction, 'link'>) => {
    const {name, statements} = CONTROLS[action]
    try {
      for (const statement of statements) await replica.query(statement)
    } catch (error) {
      throw statementError(name, error, NEEDS[action])
    }
  }
  return {
    ...texts(options),
    async assertPasswordStaysSecret() {
      await assertStatementLogsOff(replica, GENERAL_LOG_WORDS)
      // Refused now, before the password is given to the account, rather than at the link; what it turns off it turns back on.
      await (await quietStatementHistory(replica, GENERAL_LOG_WORDS.secretName))()
    },
    async link(spec: LinkSpec, password: string) {
      try {
        if (spec.position.mode === 'gtid') await replica.query('SET GLOBAL gtid_slave_pos = ?', [spec.position.gtid])
      } catch (error) {
        throw statementError('SET GLOBAL gtid_slave_pos', error)
      }
      // CHANGE MASTER TO takes no placeholders: the password is a literal of the statement, which the
      // general log (refused beforehand), performance_schema's statement history and this session's
      // slow log (both switched off for the session) would record.
      const restoreHistory = await quietStatementHistory(replica, GENERAL_LOG_WORDS.secretName)
      const restore = await quietSlowLog(replica)
      try {
        await replica.query(changeMaster(spec, password, options, await backslashEscapes(replica)))
      } catch (error) {
        throw statementError('CHANGE MASTER TO', error)
      } finally {
        await restore().catch(() => {})
        await restoreHistory().catch(() => {})
      }
    },
    start: () => run('start'),
    stop: () => run('stop'),
    remove: () => run('remove'),
    skip: () => run('skip'),
  }
}

/** The CHANGE MASTER TO statement; `password` is `***` in every text people see. */
function changeMaster(spec: LinkSpec, password: string, options: MariadbLinkOptions, escapes: boolean): string {
  const quote = (value: string) => literal(value, escapes)
  const clauses = [
    `MASTER_HOST = ${quote(spec.host)}`,
    `MASTER_PORT = ${Number(spec.port)}`,
    `MASTER_USER = ${quote(spec.user)}`,
    `MASTER_PASSWORD = ${password === MASK ? MASK : quote(password)}`,
    `MASTER_SSL = ${spec.sourceTls ? 1 : 0}`,
    ...(spec.sourceTls && options.linkSslCa ? [`MASTER_SSL_CA = ${quote(options.linkSslCa)}`, 'MASTER_SSL_VERIFY_SERVER_CERT = 1'] : []),
    ...(spec.position.mode === 'gtid'
      ? ['MASTER_USE_GTID = slave_pos']
      : [`MASTER_LOG_FILE = ${quote(spec.position.file)}`, `MASTER_LOG_POS = ${Number(spec.position.position)}`, 'MASTER_USE_GTID = no']),
  ]
  return `CHANGE MASTER TO ${clauses.join(', ')}`
}

/** A string literal for this session: with NO_BACKSLASH_ESCAPES a backslash is itself, and only quotes are doubled. */
function literal(value: string, backslashEscapes = true): string {
  const escaped = backslashEscapes ? value.replaceAll('\\', '\\\\') : value
  return `'${escaped.replaceAll("'", "''")}'`
}

async function backslashEscapes(replica: Connection): Promise<boolean> {
  const [row] = (await replica.query('SELECT @@session.sql_mode AS mode')) as Array<{mode: string}>
  return !String(row?.mode ?? '').toUpperCase().split(',').includes('NO_BACKSLASH_ESCAPES')
}

/** The server's own words only: the connector's message repeats the statement, password included. */
function statementError(what: string, error: unknown, needs = NEEDS.link): DatainError {
  const errno = sqlErrno(error)
  const e = error as {sqlMessage?: string; code?: string}
  const text = redact(e.sqlMessage ?? String(e.code ?? 'connection error'))
  const cause = Object.assign(new Error(text), {errno, code: e.code})
  if (errno === 1227 || errno === 1044 || errno === 1045) {
    return new DatainError(
      `The replica did not let datain run ${what} (error ${errno}: ${text}). datain's replica user needs ${needs} for it.`,
      {code: 'E_REPLICA_PRIVILEGE', exit: ExitCode.failed, cause, suggestions: [`GRANT ${needs.split(' (')[0]!.replace(' and ', ', ')} ON *.* TO <datain's replica user>`]},
    )
  }
  return new DatainError(`The replica refused ${what}${errno === undefined ? '' : ` (error ${errno})`}: ${text}`, {
    code: 'E_REPLICA_STATEMENT',
    exit: errno === undefined ? ExitCode.unreachable : ExitCode.failed,
    cause,
  })
}
