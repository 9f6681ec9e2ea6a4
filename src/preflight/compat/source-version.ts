import {formatMajorMinor, parseVersion, versionAtLeast} from '../../lib/sql.js'
import type {Check, CheckResult} from '../check.js'

type Outcome = Omit<CheckResult, 'id' | 'title'>

/** Azure's Data-in Replication requirement (reference/azure.md §2.3). */
export const MIN_SOURCE_VERSION = {major: 10, minor: 2}

/** Judges a source from its `VERSION()` and `@@version_comment`; pure, so every branch can be tested. */
export function judgeSourceVersion(version: string, comment: string): Outcome {
  const seen = `VERSION() '${version}', version_comment '${comment}'`
  // MariaDB names itself in VERSION() ('10.11.19-MariaDB-log'); distribution builds may put it in the comment only.
  const mariadb = /mariadb/i.test(version) || /mariadb/i.test(comment)
  if (!mariadb) {
    return {
      status: 'fail',
      message: `The source is not MariaDB (${seen}), and Azure Database for MariaDB replicates only from MariaDB (MySQL's binary log events and GTIDs differ).`,
      fix:
        'Replicate from a MariaDB server (10.2 or later). To move a MySQL server to Azure, use Azure Database for MySQL ' +
        'and its own Data-in Replication, or copy the data once with mysqldump and no replication.',
    }
  }
  const v = parseVersion(version)
  if (!v) {
    return {status: 'fail', message: `The source's version cannot be read: ${seen}.`, fix: "Run SELECT VERSION(); on the source and check that it reports a MariaDB version such as '10.6.16-MariaDB'."}
  }
  const tooOld = !versionAtLeast(v, MIN_SOURCE_VERSION.major, MIN_SOURCE_VERSION.minor)
  if (tooOld) {
    return {
      status: 'fail',
      message: `The source runs MariaDB ${formatMajorMinor(v)} (${seen}), older than the 10.2 that Data-in Replication needs.`,
      fix: `Upgrade the source to MariaDB 10.2 or later, ideally to the replica's own line (read it with SELECT VERSION(); on the replica), then run 'datain init' again.`,
    }
  }
  return {status: 'pass', message: `The source runs MariaDB ${formatMajorMinor(v)} (${seen}); Data-in Replication needs 10.2 or later.`}
}

export const sourceVersionCheck: Check = {
  id: 'source-version',
  title: 'Source is MariaDB 10.2 or later',
  needs: [],
  async run(ctx) {
    const [row] = (await ctx.source.query('SELECT VERSION() AS version, @@version_comment AS comment')) as Array<{version: string; comment: string | null}>
    return judgeSourceVersion(row!.version, row!.comment ?? '')
  },
}
