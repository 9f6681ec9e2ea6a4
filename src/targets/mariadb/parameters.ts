import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../../lib/errors.js'
import type {PlannedAction} from '../../lib/planned-action.js'
import {redact} from '../../lib/redact.js'
import {quoteString, sqlErrno} from '../../lib/sql.js'
import {sameValue} from '../../state/parameter-change.js'
import type {ParameterCall, ParameterDriver} from '../target.js'

/** Only these are ever set: a name from elsewhere never reaches SET GLOBAL. */
const SETTABLE = /^[a-z][a-z0-9_]*$/

/**
 * Server parameters with SET GLOBAL, which a restart of the replica forgets: each change says the
 * my.cnf line that keeps it. `replicate_wild_ignore_table` needs the replica's threads stopped,
 * which the link step sees to.
 */
export function mariadbParameters(replica: () => Promise<Connection>): ParameterDriver {
  return {
    async ensure(call, name, value, why) {
      const previous = await readVariable(await call.replica(), name)
      if (previous !== null && sameValue(previous, value)) return {name, previous, value, changedByDatain: false}
      await setVariable(await call.replica(), name, value, why)
      // The step says what it set and why; a restart forgets SET GLOBAL, which only the replica's my.cnf keeps.
      call.ui?.info(`SET GLOBAL lasts until the replica restarts: to keep ${name}, add to its my.cnf, under [mariadb]: ${name} = ${value}`)
      return {name, previous, value, changedByDatain: true}
    },
    async restore(call: ParameterCall, change) {
      if (!change.changedByDatain || change.previous === null) return false
      const current = await readVariable(await call.replica(), change.name)
      if (current === null || !sameValue(current, change.value) || sameValue(current, change.previous)) return false
      await setVariable(await call.replica(), change.name, change.previous)
      call.ui?.info(`If the replica's my.cnf has the line ${change.name} = ${change.value} that datain suggested, remove it.`)
      return true
    },
    current: async (name) => readVariable(await replica(), name),
    plan: (name, value, why): PlannedAction => ({
      on: 'replica',
      kind: 'sql',
      text: `SET GLOBAL ${name} = ${literal(value)}  -- unless already '${value}'; ${why}; and in my.cnf [mariadb]: ${name} = ${value}`,
    }),
  }
}

async function readVariable(replica: Connection, name: string): Promise<string | null> {
  const rows: Array<{Value: string | null}> = await replica.query('SHOW GLOBAL VARIABLES WHERE Variable_name = ?', [name])
  return rows[0]?.Value ?? null
}

async function setVariable(replica: Connection, name: string, value: string, why?: string): Promise<void> {
  if (!SETTABLE.test(name)) throw new Error(`not a server parameter name: ${name}`)
  try {
    await replica.query(`SET GLOBAL ${name} = ${literal(value)}`)
  } catch (error) {
    const errno = sqlErrno(error)
    const text = redact((error as {sqlMessage?: string}).sqlMessage ?? String(error))
    throw new DatainError(
      `The replica refused SET GLOBAL ${name} = ${value}${errno === undefined ? '' : ` (error ${errno})`}: ${text}. ` +
        (errno === 1227 ? `datain's replica user needs SUPER or the privilege MariaDB names for ${name}. ` : '') +
        `Set it by hand${why ? ` (datain needs it ${why})` : ''}: SET GLOBAL ${name} = ${literal(value)}, and in my.cnf [mariadb]: ${name} = ${value}; then run 'datain start' again.`,
      {code: 'E_SERVER_PARAMETER', exit: ExitCode.failed, cause: error, suggestions: [`SET GLOBAL ${name} = ${literal(value)}`]},
    )
  }
}

/** ON/OFF and numbers as they are; any other value as a string literal. */
function literal(value: string): string {
  return /^(ON|OFF|-?\d+)$/i.test(value) ? value : quoteString(value)
}
