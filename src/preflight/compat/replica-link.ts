import type {Connection} from 'mariadb'
import type {Check, CheckResult, PreflightContext} from '../check.js'
import {sqlErrno} from '../../lib/sql.js'
import {controlsShown} from '../../lib/validate.js'

/** What a DBA types to drop the replica's link, as each target words it. */
const UNLINK = {
  'azure-mariadb': 'CALL mysql.az_replication_stop; CALL mysql.az_replication_remove_master;',
  mariadb: 'STOP SLAVE; RESET SLAVE ALL;',
} as const

interface LinkRow {
  host: string
  port: number
  user: string
}

/**
 * Is the replica already replicating from another source? The link step refuses to take over such a
 * link (E_REPLICA_LINKED), but only after the copy: found here, a DBA learns it before hours of
 * snapshot. A link datain made to this source (an earlier run) is its own; a row with no source host
 * is a removed link (what Azure's remove may leave).
 */
export const replicaLinkCheck: Check = {
  id: 'replica-link',
  title: 'Replica not linked to another source',
  needs: ['replica'],
  async run(ctx) {
    let link: LinkRow | undefined
    try {
      link = await readLink(ctx.replica!)
    } catch (error) {
      if (sqlErrno(error) !== 1227) throw error
      return {status: 'warn', message: "datain's replica user may not read SHOW SLAVE STATUS, so whether the replica is linked elsewhere is unknown.", fix: 'Grant it SLAVE MONITOR (or REPLICATION CLIENT).'}
    }
    if (!link) return {status: 'pass', message: 'The replica has no replication link.'}
    return judgeLink(ctx, link)
  },
}

async function readLink(replica: Connection): Promise<LinkRow | undefined> {
  const [row] = (await replica.query('SHOW SLAVE STATUS')) as Array<Record<string, unknown>>
  const host = String(row?.Master_Host ?? '')
  if (!row || host === '') return undefined
  return {host, port: Number(row.Master_Port ?? 0), user: String(row.Master_User ?? '')}
}

function judgeLink(ctx: PreflightContext, link: LinkRow): Omit<CheckResult, 'id' | 'title'> {
  const {sourcePublicHost, sourcePort, replicationUser, target, takeOverReplica} = ctx.settings
  // The replica repeats what CHANGE MASTER TO was given: shown on one line, whatever it holds.
  const where = `${controlsShown(link.host)}:${link.port} as '${controlsShown(link.user)}'`
  if (link.host.toLowerCase() === sourcePublicHost.toLowerCase() && link.port === sourcePort && link.user === replicationUser) {
    return {status: 'pass', message: `The replica is linked to this source (${where}): datain's own link from an earlier run, which the link step takes up again.`}
  }
  const linked = `The replica is linked to another source: it replicates (or was set to) from ${where}, not from ${sourcePublicHost}:${sourcePort} as '${replicationUser}'`
  if (takeOverReplica) {
    return {status: 'warn', message: `${linked}; with --take-over-replica this run replaces that link.`, fix: 'Leave out --take-over-replica to keep it.', offenders: [where]}
  }
  return {
    status: 'fail',
    message: `${linked}, and datain does not take over a link it did not make.`,
    fix: `If that link is no longer wanted, remove it on the replica:\n${UNLINK[target]}\nor run 'datain start --take-over-replica' to have that one run replace it.`,
    offenders: [where],
  }
}
