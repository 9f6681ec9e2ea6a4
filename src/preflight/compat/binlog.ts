import {globalVariables, isOn} from '../../lib/sql.js'
import type {Check, CheckResult, PreflightContext} from '../check.js'

/** Where a DBA finds the file to edit; the `[mariadb]` group is read by every MariaDB server since 10.1. */
const MY_CNF = "the source's my.cnf (e.g. /etc/mysql/mariadb.conf.d/50-server.cnf on Debian and Ubuntu, /etc/my.cnf.d/server.cnf on RHEL)"

/** The my.cnf lines to add and the restart, as a fix reads them; `more` follows as sentences of its own. */
export function myCnfFix(lines: string[], more = ''): string {
  return (
    `Add under [mariadb] in ${MY_CNF}:\n[mariadb]\n${lines.join('\n')}\n` +
    `then restart the source (sudo systemctl restart mariadb); datain never restarts a server itself.${more ? ` ${more}` : ''}`
  )
}

/** A server_id for the source that is neither 0 nor the replica's. */
export function suggestedServerId(replicaServerId: number | undefined): number {
  return replicaServerId === 1 ? 2 : 1
}

/**
 * The source's binary log, as the steps need it: on, ROW, a non-zero server_id different from the
 * replica's, and (in GTID mode) GTID state the replica can take up. One result each, each with its
 * own fix. Needs no replica: the server_id comparison, when it cannot run, is a separate not-run
 * result (`server-id-distinct`), so that the source's own part still reports as passed.
 */
export const binlogCheck: Check = {
  id: 'binlog',
  title: 'Binary log on the source',
  needs: [],
  async run(ctx) {
    const source = await globalVariables(ctx.source, ['log_bin', 'binlog_format', 'server_id', 'gtid_domain_id', 'gtid_binlog_pos', 'gtid_strict_mode'])
    const replica = ctx.replica ? await globalVariables(ctx.replica, ['server_id', 'gtid_domain_id', 'gtid_strict_mode']) : undefined
    const logBin = isOn(source.log_bin)
    const results: CheckResult[] = [logBinResult(logBin), binlogFormatResult(source.binlog_format ?? '')]
    results.push(...serverIdResults(Number(source.server_id), replica ? Number(replica.server_id) : undefined, ctx))
    results.push(gtidResult(ctx, logBin, source, replica))
    return results
  },
}

function logBinResult(on: boolean): CheckResult {
  const base = {id: 'log-bin', title: 'Binary logging on the source'}
  if (on) return {...base, status: 'pass', message: 'The source writes a binary log (log_bin is ON).'}
  return {
    ...base,
    status: 'fail',
    message: 'The source writes no binary log (log_bin is OFF), and the replica reads every change from it.',
    // A base name keeps the file names stable when the host is renamed (a bare log_bin names them after the host).
    fix: myCnfFix(['log_bin=mariadb-bin'], 'log_bin cannot be turned on while the server runs. Add the binlog_format and server_id lines too if those checks fail, so that one restart does all.'),
  }
}

function binlogFormatResult(format: string): CheckResult {
  const base = {id: 'binlog-format', title: 'Row-based binary log'}
  if (format.toUpperCase() === 'ROW') return {...base, status: 'pass', message: 'The source logs rows (binlog_format is ROW).'}
  return {
    ...base,
    status: 'fail',
    message: `The source's binlog_format is ${format || 'unknown'}, not ROW; statement-based events replay differently on the replica (non-deterministic functions, triggers, LIMIT), so datain needs ROW.`,
    fix: myCnfFix(
      ['binlog_format=ROW'],
      "SET GLOBAL binlog_format = 'ROW'; switches new sessions at once but not the ones already connected, and it is lost on restart: the my.cnf line is what counts.",
    ),
  }
}

function serverIdResults(sourceId: number, replicaId: number | undefined, ctx: PreflightContext): CheckResult[] {
  const base = {id: 'server-id', title: 'Source server_id set and distinct'}
  const n = suggestedServerId(replicaId)
  const fix = myCnfFix(
    [`server_id=${n}`],
    `To apply it without the restart, also run SET GLOBAL server_id = ${n}; (needs SUPER). ` +
      (replicaId === undefined
        ? "Any value from 1 to 4294967295 works that is not the replica's own (SELECT @@server_id; on the replica)."
        : `Any value from 1 to 4294967295 works but 0 and the replica's ${replicaId}.`),
  )
  if (sourceId === 0) {
    return [{...base, status: 'fail', message: 'The source\'s server_id is 0, and a server with server_id 0 refuses to serve replicas ("Misconfigured master").', fix}]
  }
  if (replicaId === undefined) {
    return [
      {
        ...base,
        status: 'pass',
        message: `The source's server_id is ${sourceId}, not 0; the comparison with the replica's server_id was not run (see server-id-distinct).`,
      },
      {
        id: 'server-id-distinct',
        title: "Source server_id differs from the replica's",
        status: 'not-run',
        message: `Not run: ${ctx.replicaUnavailable ?? 'the replica is not reachable'}.`,
      },
    ]
  }
  if (sourceId === replicaId) {
    return [
      {
        ...base,
        status: 'fail',
        message: `The source and the replica both have server_id ${sourceId}, so the replica would ignore the source's events and stop with error 1593 (master and slave have equal server ids).`,
        fix,
      },
    ]
  }
  return [{...base, status: 'pass', message: `The source's server_id is ${sourceId}, the replica's ${replicaId}: set and distinct.`}]
}

type Vars = Partial<Record<'gtid_domain_id' | 'gtid_binlog_pos' | 'gtid_strict_mode', string>>

function gtidResult(ctx: PreflightContext, logBin: boolean, source: Vars, replica: Vars | undefined): CheckResult {
  const base = {id: 'gtid', title: 'GTID state for GTID-based replication'}
  if (!ctx.settings.gtid) return {...base, status: 'not-run', message: 'Not run: --no-gtid replicates by binary log file and position.'}
  if (!logBin) return {...base, status: 'not-run', message: 'Not run: without a binary log (see log-bin) the source logs no GTIDs.'}
  const domain = Number(source.gtid_domain_id)
  const pos = source.gtid_binlog_pos ?? ''
  const seen = `the source's gtid_domain_id is ${domain} and gtid_binlog_pos '${pos}'`
  if (!replica) {
    return {...base, status: 'pass', message: `GTID replication can start from the source: ${seen}; the replica's gtid_strict_mode was not read (${ctx.replicaUnavailable ?? 'the replica is not reachable'}).`}
  }
  const replicaDomain = Number(replica.gtid_domain_id)
  const replicaStrict = isOn(replica.gtid_strict_mode)
  // The replica logs its own writes (the snapshot load among them) in its domain: with strict mode,
  // a source event of the same domain with a lower sequence number stops replication (error 1950).
  if (replicaStrict && replicaDomain === domain) {
    return {
      ...base,
      status: 'warn',
      message:
        `The replica has gtid_strict_mode ON and the same gtid_domain_id ${domain} as the source (${seen}), so the replica's own transactions, ` +
        `the snapshot load among them, can put the source's GTIDs out of order and stop replication with error 1950.`,
      fix: myCnfFix(
        [`gtid_domain_id=${domain + 1}`],
        `A domain of its own keeps the source's GTIDs apart from the replica's; to apply it without the restart, also run SET GLOBAL gtid_domain_id = ${domain + 1}; (needs SUPER). ` +
          `Or turn gtid_strict_mode OFF on the replica (${ctx.settings.target === 'mariadb' ? 'SET GLOBAL gtid_strict_mode = OFF, and in its my.cnf' : 'Azure portal: Server parameters'}), or use --no-gtid.`,
      ),
    }
  }
  return {
    ...base,
    status: 'pass',
    message: `GTID replication can start: ${seen}, the replica's gtid_domain_id is ${replicaDomain} with gtid_strict_mode ${replicaStrict ? 'ON' : 'OFF'}.`,
  }
}
