import {globalVariables, quoteIdentifier, quoteQualified} from '../../lib/sql.js'
import type {Check} from '../check.js'
import {listText, plural} from '../../lib/format.js'
import {selectedTables, type BaseTable} from './tables.js'

const hasUpper = (s: string) => s !== s.toLowerCase()

/**
 * What a source must do before it can run with lower_case_table_names=1: every name with an upper
 * case letter is one the server no longer finds after the restart. MariaDB cannot rename a
 * database, so each table of such a database moves into a new lower-case one.
 */
function lowerCasePlan(databases: readonly string[], tables: readonly BaseTable[]): {offenders: string[]; statements: string[]; upperDatabases: string[]} {
  const upperDatabases = databases.filter(hasUpper)
  const statements = [
    ...upperDatabases.map((db) => `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(db.toLowerCase())};`),
    ...tables
      .filter((t) => hasUpper(t.database) || hasUpper(t.table))
      .map((t) => `RENAME TABLE ${quoteQualified(t.database, t.table)} TO ${quoteQualified(t.database.toLowerCase(), t.table.toLowerCase())};`),
  ]
  const offenders = [...upperDatabases, ...tables.filter((t) => hasUpper(t.table)).map((t) => `${t.database}.${t.table}`)]
  return {offenders, statements, upperDatabases}
}

export const lowerCaseTableNamesCheck: Check = {
  id: 'lower-case-table-names',
  title: 'lower_case_table_names equal on both sides',
  needs: ['replica'],
  async run(ctx) {
    const [source, replica] = await Promise.all([
      globalVariables(ctx.source, ['lower_case_table_names']),
      globalVariables(ctx.replica!, ['lower_case_table_names']),
    ])
    const s = Number(source.lower_case_table_names)
    const r = Number(replica.lower_case_table_names)
    if (s === r) return {status: 'pass', message: `lower_case_table_names is ${s} on both the source and the replica.`}

    // Only a replica that stores names in lower case (Azure: 1) makes upper-case names on the source a problem.
    const plan = r === 1 ? lowerCasePlan(ctx.databases, await selectedTables(ctx)) : {offenders: [], statements: [], upperDatabases: []}
    const change =
      `lower_case_table_names is read-only while the server runs (SET GLOBAL lower_case_table_names fails with error 1238), ${ctx.settings.target === 'mariadb' ? `and the replica's can only change before its data directory is created` : `and on Azure it is ${r} and cannot be changed`}: ` +
      `put lower_case_table_names=${r} under [mariadb] in the source's my.cnf and restart the source.`
    let before = ''
    if (plan.statements.length > 0) {
      before =
        ` Before that restart, while the source still runs with ${s}, rename every table and database that has upper-case letters, or the source no longer finds them afterwards` +
        (plan.upperDatabases.length > 0
          ? `; MariaDB cannot rename a database, so the tables of ${listText(plan.upperDatabases)} move into a new lower-case database ` +
            '(re-create its views, routines, triggers and events there, then drop the old one)'
          : '') +
        `:\n${plan.statements.join('\n')}`
    } else if (r === 1) {
      before = ' No selected table or database name has upper-case letters, so the change needs no renaming.'
    }
    return {
      status: 'fail',
      message:
        `lower_case_table_names is ${s} on the source but ${r} on the replica, so names that differ only in case would not resolve to the same tables on both sides` +
        (plan.offenders.length > 0 ? `; ${plural(plan.offenders.length, 'selected name')} ${plan.offenders.length === 1 ? 'holds' : 'hold'} upper-case letters: ${listText(plan.offenders)}.` : '.'),
      fix: change + before,
      offenders: plan.offenders.length > 0 ? plan.offenders : undefined,
    }
  },
}
