import {SYSTEM_DATABASES} from '../../lib/validate.js'
import {listText} from '../../lib/format.js'
import type {Check} from '../check.js'

/** `--databases` names that the source does not have: a typo copies nothing and filters the rest away. */
export const databasesExistCheck: Check = {
  id: 'databases-exist',
  title: 'Selected databases exist on the source',
  needs: [],
  async run(ctx) {
    if (ctx.settings.databases.length === 0) {
      return {status: 'pass', message: `No --databases given: datain copies every user database of the source (${listText(ctx.databases)}).`}
    }
    const rows: Array<{name: string}> = await ctx.source.query('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA')
    const existing = new Set(rows.map((r) => r.name))
    const missing = ctx.settings.databases.filter((db) => !existing.has(db))
    if (missing.length === 0) return {status: 'pass', message: `The source has every selected database (${listText(ctx.settings.databases)}).`}
    return {
      status: 'fail',
      message: `The source has no database named ${listText(missing.map((m) => `'${m}'`))} (names are compared exactly).`,
      offenders: missing,
      fix: `Correct --databases (the source has: ${listText([...existing].filter((n) => !SYSTEM_DATABASES.has(n.toLowerCase())))}) and run 'datain init --force' again.`,
    }
  },
}
