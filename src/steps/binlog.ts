import {DatainError, ExitCode} from '../lib/errors.js'
import {GatewayRefusedError} from '../lib/mariadb.js'
import {globalVariables, isOn} from '../lib/sql.js'
import {myCnfFix, suggestedServerId} from '../preflight/compat/binlog.js'
import type {PlannedAction, Step, StepContext} from './step.js'
import type {BinlogOutput} from '../state/step-outputs.js'

export type {BinlogOutput}

const SOURCE_VARIABLES = ['log_bin', 'binlog_format', 'server_id'] as const

/**
 * The source's binary log: on, ROW, a server_id that is set and not the replica's. Checks only,
 * and checks every time (`alwaysRun`): these are my.cnf settings that need a restart, and datain
 * never restarts a server. When one is missing the step fails (E_BINLOG, exit 1) with every my.cnf
 * line to add at once, the restart to do, and the command that goes on from here.
 */
export const binlogStep: Step<'binlog'> = {
  id: 'binlog',
  title: 'Binary log',
  describe: 'checks that the source writes a row-based binary log under a server_id of its own',
  alwaysRun: true,

  async plan(): Promise<PlannedAction[]> {
    return [
      {on: 'source', kind: 'check', text: "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', 'server_id') -- want ON, ROW, not 0"},
      {on: 'replica', kind: 'check', text: "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('server_id') -- the source's must differ"},
      {on: 'local', kind: 'note', text: 'Changes nothing: a missing setting stops the setup with the my.cnf lines to add and the restart to do.'},
    ]
  },

  async run(ctx): Promise<BinlogOutput> {
    const source = await globalVariables(await ctx.source(), SOURCE_VARIABLES)
    const logBin = isOn(source.log_bin)
    const binlogFormat = String(source.binlog_format ?? '').toUpperCase()
    const serverId = Number(source.server_id)
    const replicaServerId = await readReplicaServerId(ctx)

    const problems: string[] = []
    const lines: string[] = []
    if (!logBin) {
      problems.push('it writes no binary log (log_bin is OFF), and the replica reads every change from it')
      // A base name keeps the file names stable when the host is renamed (a bare log_bin names them after the host).
      lines.push('log_bin=mariadb-bin')
    }
    if (binlogFormat !== 'ROW') {
      problems.push(`its binlog_format is ${binlogFormat || 'unknown'}, not ROW, and statement-based events can replay differently on the replica`)
      lines.push('binlog_format=ROW')
    }
    if (serverId === 0 || serverId === replicaServerId) {
      problems.push(
        serverId === 0
          ? 'its server_id is 0, and a server with server_id 0 serves no replica'
          : `its server_id ${serverId} is the replica's too, so the replica would skip every event (error 1593)`,
      )
      lines.push(`server_id=${suggestedServerId(replicaServerId ?? undefined)}`)
    }

    if (problems.length > 0) {
      const resume = `datain start --profile ${ctx.profile}`
      throw new DatainError(
        `The source's binary log is not ready for replication: ${problems.join('; ')}. ` +
          myCnfFix(lines, `Then run \`${resume}\` again: it goes on from this step, and nothing done before it is repeated.`),
        {
          code: 'E_BINLOG',
          exit: ExitCode.failed,
          suggestions: [`Add ${lines.join(', ')} under [mariadb] in the source's my.cnf and restart the source`, resume],
        },
      )
    }

    if (replicaServerId === null) {
      ctx.ui.info(`The source's server_id is ${serverId}; the replica's was not read (its firewall does not let this machine in yet), so they were not compared.`)
    }
    return {logBin, binlogFormat, serverId, replicaServerId}
  },
}

/** The replica's server_id, or null while Azure's gateway refuses this machine (the firewall step comes later). */
async function readReplicaServerId(ctx: StepContext): Promise<number | null> {
  try {
    const replica = await globalVariables(await ctx.replica(), ['server_id'])
    return Number(replica.server_id)
  } catch (error) {
    if (error instanceof GatewayRefusedError) return null
    throw error
  }
}
