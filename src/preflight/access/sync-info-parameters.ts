import type {Check} from '../check.js'
import {armParameter, setByHand} from './server-parameters.js'

const PARAMETERS = ['sync_master_info', 'sync_relay_log_info'] as const

/**
 * In binlog file/position mode Azure asks for sync_master_info=1 and sync_relay_log_info=1 on the
 * replica, so that its position survives a crash; GTID mode keeps the position in a table.
 */
export const syncInfoParameters: Check = {
  id: 'sync-info-parameters',
  title: 'sync_master_info and sync_relay_log_info in file/position mode',
  needs: [],
  async run(ctx) {
    if (ctx.settings.gtid) {
      return {status: 'pass', message: 'Not needed: GTID-based replication keeps its position crash-safe; Azure asks for sync_master_info=1 and sync_relay_log_info=1 only in file/position mode (--no-gtid).'}
    }

    if (ctx.settings.target === 'mariadb') {
      return {status: 'pass', message: 'datain will SET GLOBAL sync_master_info = 1 and sync_relay_log_info = 1 on the replica before it starts replication, and print the my.cnf lines that keep them.'}
    }

    if (ctx.arm) {
      const values: string[] = []
      const absent: string[] = []
      for (const name of PARAMETERS) {
        const parameter = await armParameter(ctx.arm, name)
        if (parameter) values.push(`${name}=${parameter.value ?? 'unset'}`)
        else absent.push(name)
      }
      if (absent.length > 0) {
        return {
          status: 'fail',
          message: `The replica's server '${ctx.arm.target.server}' offers no ${absent.join(' or ')} parameter through ARM, which file/position replication needs set to 1.`,
          fix: 'Use GTID-based replication (leave out --no-gtid), which does not need them.',
          offenders: absent,
        }
      }
      const done = values.every((v) => v.endsWith('=1'))
      return {
        status: 'pass',
        message: done
          ? `sync_master_info and sync_relay_log_info are already 1 on the replica (through ARM).`
          : `datain will set sync_master_info=1 and sync_relay_log_info=1 through ARM before linking the replica (now ${values.join(', ')}).`,
      }
    }

    if (!ctx.replica) {
      return {
        status: 'not-run',
        message: `Not run: with --no-arm datain reads sync_master_info and sync_relay_log_info on the replica itself, and ${ctx.replicaUnavailable ?? 'the replica is not reachable'}.`,
      }
    }
    const [row] = await ctx.replica.query<Array<Record<(typeof PARAMETERS)[number], number>>>(
      `SELECT ${PARAMETERS.map((name) => `@@global.${name} AS ${name}`).join(', ')}`,
    )
    const wrongNames = PARAMETERS.filter((name) => Number(row![name]) !== 1)
    const wrong = wrongNames.map((name) => `${name}=${row![name]}`)
    if (wrong.length === 0) {
      return {status: 'pass', message: 'sync_master_info and sync_relay_log_info are 1 on the replica, as file/position replication needs.'}
    }
    return {
      status: 'fail',
      message: `The replica has ${wrong.join(' and ')}; file/position replication needs both at 1 (Azure's requirement), and with --no-arm datain does not set them.`,
      fix:
        `Set ${wrongNames.join(' and ')} to 1 on the replica by hand, ${setByHand(wrongNames, '1')}; ` +
        `or use GTID-based replication (leave out --no-gtid).`,
      offenders: wrong,
    }
  },
}
