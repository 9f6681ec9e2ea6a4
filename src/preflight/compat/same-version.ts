import {formatMajorMinor, parseVersion, serverVersion} from '../../lib/sql.js'
import type {Check, CheckResult} from '../check.js'
import type {TargetKind} from '../../targets/target.js'

/** Source and replica on the same major.minor line; pure, so the mismatch can be tested without two versions installed. */
export function judgeSameVersion(sourceVersion: string, replicaVersion: string, target: TargetKind = 'azure-mariadb'): Omit<CheckResult, 'id' | 'title'> {
  const s = parseVersion(sourceVersion)
  const r = parseVersion(replicaVersion)
  const seen = `the source runs '${sourceVersion}', the replica '${replicaVersion}'`
  if (!s || !r) return {status: 'fail', message: `The versions cannot be compared: ${seen}.`, fix: 'Run SELECT VERSION(); on both servers and check that each reports a MariaDB version.'}
  if (s.major === r.major && s.minor === r.minor) {
    return {status: 'pass', message: `Both servers run MariaDB ${formatMajorMinor(s)}: ${seen}.`}
  }
  return {
    status: 'fail',
    message: `The servers run different MariaDB lines, ${formatMajorMinor(s)} and ${formatMajorMinor(r)}: ${seen}, and Data-in Replication needs the same major version on both.`,
    fix:
      target === 'mariadb'
        ? `Use a replica of the source's line: install MariaDB ${formatMajorMinor(s)} on the replica's host, or upgrade or downgrade the source to ${formatMajorMinor(r)}.`
        : `Use a replica of the source's line: create the Azure Database for MariaDB server with --version ${formatMajorMinor(s)} ` +
      `(az mariadb server create ... --version ${formatMajorMinor(s)}) if Azure offers it, or upgrade or downgrade the source to ${formatMajorMinor(r)}; ` +
      `the Azure portal shows the server's version on its Overview page.`,
  }
}

export const sameVersionCheck: Check = {
  id: 'same-version',
  title: 'Source and replica on the same MariaDB version',
  needs: ['replica'],
  async run(ctx) {
    // Azure's gateway announces a version of its own in the handshake: only SELECT VERSION() tells the truth.
    const [source, replica] = await Promise.all([serverVersion(ctx.source), serverVersion(ctx.replica!)])
    return judgeSameVersion(source, replica, ctx.settings.target)
  },
}
