import {quoteIdentifier} from '../../lib/sql.js'
import type {Check} from '../check.js'
import {listText} from '../../lib/format.js'

export const replicaEmptyCheck: Check = {
  id: 'replica-empty',
  title: 'Replica holds none of the selected databases',
  needs: ['replica'],
  async run(ctx) {
    const rows = (await ctx.replica!.query('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA')) as Array<{name: string}>
    // The replica runs with lower_case_table_names=1: `Shop` copied from the source lands in `shop`.
    const fold = (s: string) => s.toLowerCase()
    const selected = new Set(ctx.databases.map(fold))
    const own = new Set(ctx.own.replicaDatabases.map(fold))
    const present = rows.map((r) => r.name).filter((name) => selected.has(fold(name))).sort()
    const ours = present.filter((name) => own.has(fold(name)))
    const conflicts = present.filter((name) => !own.has(fold(name)))
    const oursNote = ours.length > 0 ? `; ${listText(ours)} ${ours.length > 1 ? 'are' : 'is'} datain's own partial copy from an earlier run, which the snapshot step takes up again` : ''

    if (conflicts.length === 0) {
      return {
        status: 'pass',
        message: ours.length > 0 ? `The replica holds no selected database that datain did not create${oursNote}.` : `The replica holds none of the selected databases (${listText(ctx.databases)}).`,
      }
    }
    const holds = `The replica already holds ${conflicts.length > 1 ? 'the databases' : 'the database'} ${listText(conflicts)}, which datain did not create${oursNote}`
    if (ctx.settings.replaceDatabases) {
      return {
        status: 'warn',
        message: `${holds}; with --replace-databases this run drops ${conflicts.length > 1 ? 'them' : 'it'} and copies the source's again.`,
        fix: 'Leave out --replace-databases to keep them, or check first that nothing on the replica needs them.',
        offenders: conflicts,
      }
    }
    return {
      status: 'fail',
      message: `${holds}, and the snapshot would overwrite ${conflicts.length > 1 ? 'them' : 'it'}.`,
      fix: `Drop ${conflicts.length > 1 ? 'them' : 'it'} on the replica if nothing there is needed:\n${conflicts.map((name) => `DROP DATABASE ${quoteIdentifier(name)};`).join('\n')}\nor run 'datain start --replace-databases' to have this one run drop ${conflicts.length > 1 ? 'them' : 'it'} and copy the source's again.`,
      offenders: conflicts,
    }
  },
}
