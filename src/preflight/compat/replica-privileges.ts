import type {Connection} from 'mariadb'
import {parseVersion, versionAtLeast} from '../../lib/sql.js'
import {grantsPrivilege, parseGrantLine, parseGrants} from '../grants.js'
import type {Check} from '../check.js'

/** What datain does on a replica it administers, and the privilege MariaDB 10.11 asks for (test/targets found each by running it without). */
const NEEDED = [
  {any: ['REPLICATION SLAVE ADMIN', 'SUPER'], for: 'CHANGE MASTER TO, START SLAVE, STOP SLAVE and the replication filters', required: true},
  {any: ['SLAVE MONITOR', 'REPLICATION CLIENT', 'SUPER'], for: 'SHOW SLAVE STATUS, which every step and datain status read', required: true},
  {any: ['RELOAD'], for: "RESET SLAVE ALL, which 'datain stop --remove' and the cutover run", required: false},
  {any: ['BINLOG ADMIN', 'SUPER'], for: 'SET GLOBAL log_bin_trust_function_creators, when the copy holds functions or triggers', required: false},
  {any: ['SUPER'], for: "SET GLOBAL sql_slave_skip_counter, which 'datain skip' runs (MariaDB 10.11 lets nothing else set it)", required: false},
] as const

type Need = {readonly any: readonly string[]; readonly for: string; readonly required: boolean}

/**
 * A replica kept read-only, as many are: replication's own threads write regardless, but the
 * snapshot, `datain accounts` and the cutover's events are datain's session, refused with error 1290
 * unless it holds READ_ONLY ADMIN (which SUPER no longer includes from MariaDB 10.11 on).
 */
async function readOnlyNeed(replica: Connection): Promise<Need | undefined> {
  const [row] = (await replica.query('SELECT @@global.read_only AS ro, VERSION() AS v')) as Array<{ro: number | string; v: string}>
  if (Number(row?.ro ?? 0) !== 1) return undefined
  const version = parseVersion(String(row?.v ?? ''))
  const superIncludesIt = version !== undefined && !versionAtLeast(version, 10, 11)
  return {
    any: superIncludesIt ? ['READ_ONLY ADMIN', 'SUPER'] : ['READ_ONLY ADMIN'],
    for: "the replica is read-only (read_only=ON): the snapshot's, 'datain accounts'' and the cutover's writes (replication itself is exempt); or SET GLOBAL read_only = OFF while datain sets up",
    required: true,
  }
}

/**
 * A replica the DBA administers: does datain's replica user hold what linking, starting, stopping
 * and removing replication take? Read from SHOW GRANTS (global privileges); a role's privileges
 * count only once it is the session's, so a missing one is a warning when roles are granted.
 */
export const replicaPrivilegesCheck: Check = {
  id: 'replica-privileges',
  title: "Privileges of datain's replica user for replication",
  needs: ['replica'],
  targets: ['mariadb'],
  async run(ctx) {
    const rows = (await ctx.replica!.query('SHOW GRANTS')) as Array<Record<string, string>>
    const lines = rows.map((row) => Object.values(row)[0] ?? '')
    const global = parseGrants(lines).filter((g) => g.on.level === 'global')
    const holds = (privilege: string) => global.some((g) => grantsPrivilege(g, privilege))
    const viaRoles = lines.some((line) => parseGrantLine(line)?.kind === 'role')
    const missing: Need[] = NEEDED.filter((need) => !need.any.some(holds))
    const readOnly = await readOnlyNeed(ctx.replica!)
    if (readOnly && !readOnly.any.some(holds)) missing.unshift(readOnly)
    const offenders = missing.map((need) => `${need.any.join(' or ')}: for ${need.for}`)
    const grant = `GRANT ${[...new Set(missing.map((need) => need.any[0]))].join(', ')} ON *.* TO <datain's replica user>`
    if (missing.some((need) => need.required) && !viaRoles) {
      return {status: 'fail', message: "datain's replica user lacks privileges that linking the replica needs.", fix: grant, offenders}
    }
    if (missing.length > 0) {
      return {
        status: 'warn',
        message: viaRoles
          ? "datain's replica user does not hold these privileges itself; a role it is granted may, once enabled."
          : "datain's replica user can link and run replication, but lacks privileges some commands need.",
        fix: grant,
        offenders,
      }
    }
    return {status: 'pass', message: "datain's replica user holds every privilege datain uses on the replica (REPLICATION SLAVE ADMIN, SLAVE MONITOR, RELOAD, BINLOG ADMIN, SUPER)."}
  },
}
