import {quoteQualified} from '../../lib/sql.js'
import type {Check} from '../check.js'
import {databasesText, listText, plural} from '../../lib/format.js'
import {selectedTables, tableLabel} from './tables.js'

export const innodbTablesCheck: Check = {
  id: 'innodb-tables',
  title: 'Every table is InnoDB',
  needs: [],
  async run(ctx) {
    const tables = await selectedTables(ctx)
    const offenders = tables.filter((t) => t.engine?.toLowerCase() !== 'innodb')
    const where = databasesText(ctx.databases)
    if (offenders.length === 0) {
      return {status: 'pass', message: `All ${plural(tables.length, 'table')} of ${where} use InnoDB.`}
    }
    const labels = offenders.map((t) => `${tableLabel(t)} (${t.engine ?? 'engine unknown'})`)
    return {
      status: 'fail',
      message:
        `${offenders.length} of the ${plural(tables.length, 'table')} of ${where} ${offenders.length === 1 ? 'does' : 'do'} not use InnoDB: ${listText(labels)}; ` +
        (ctx.settings.target === 'mariadb'
          ? 'the snapshot is consistent for InnoDB tables only, and a crash of the replica can leave the others out of step with its replication position.'
          : `Azure Database for MariaDB keeps only InnoDB tables consistent (MyISAM, Aria and the others are not supported) and the snapshot is consistent for InnoDB only.`),
      fix:
        'Convert them on the source before the snapshot (each ALTER rebuilds the table and locks it while it runs):\n' +
        offenders.map((t) => `ALTER TABLE ${quoteQualified(t.database, t.table)} ENGINE=InnoDB;`).join('\n'),
      offenders: labels,
    }
  },
}
