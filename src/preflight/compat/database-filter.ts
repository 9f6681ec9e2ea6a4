import {isRestError} from '@azure/core-rest-pipeline'
import type {Connection} from 'mariadb'
import {armError} from '../../azure/arm.js'
import {caseInsensitiveLike, escapeLike, globalVariables, likeMatch, quoteString} from '../../lib/sql.js'
import type {Check, CheckResult, PreflightContext} from '../check.js'
import {userDatabases} from '../context.js'
import {listText, plural} from '../../lib/format.js'
import {selectedTables, foldsNameCase, schemaMatcher} from './tables.js'

export const FILTER_PARAMETER = 'replicate_wild_ignore_table'

/** What the replica must ignore so that a subset of the source's databases can replicate. */
export interface ReplicationFilter {
  /** The source's user databases that are not copied, sorted. */
  ignored: string[]
  /** The value for `replicate_wild_ignore_table`: `db.%` for each, comma-separated. */
  value: string
}

/** The source's user databases that `selected` leaves out; empty when the selection takes them all. */
export function uncopiedDatabases(sourceDatabases: readonly string[], selected: readonly string[], foldCase: boolean): string[] {
  const isSelected = schemaMatcher(selected, foldCase)
  return sourceDatabases.filter((name) => !isSelected(name)).sort()
}

/**
 * The `replicate_wild_ignore_table` value that skips every table of `ignored`: `db.%` each,
 * comma-separated. `%`, `_` and `\` in a name are escaped (else `my_db.%` would also skip `myXdb`).
 * The server splits the value at commas with no escape, so a comma in a name becomes `_`, the
 * one-character wildcard; {@link filterHits} tells whether that reaches a copied table.
 */
export function wildIgnoreTableValue(ignored: readonly string[]): string {
  return ignored.map((name) => `${escapeLike(name).replaceAll(',', '_')}.%`).join(',')
}

/** The filter a subset of databases needs, read from the source; undefined when `selected` takes every user database. */
export async function replicationFilter(source: Connection, selected: readonly string[]): Promise<ReplicationFilter | undefined> {
  if (selected.length === 0) return undefined
  const ignored = uncopiedDatabases(await userDatabases(source), selected, await foldsNameCase(source))
  return ignored.length === 0 ? undefined : {ignored, value: wildIgnoreTableValue(ignored)}
}

/**
 * Copied tables (`db.table`) that a filter value would skip. The replica matches the rules against
 * `db.table` without regard to case. A database with no table is tested as `db.` so that a rule for
 * the whole database still shows.
 */
export function filterHits(value: string, copied: ReadonlyArray<{database: string; tables: string[]}>): string[] {
  const rules = splitRules(value).map(caseInsensitiveLike)
  const hits: string[] = []
  for (const {database, tables} of copied) {
    for (const name of tables.length > 0 ? tables.map((t) => `${database}.${t}`) : [`${database}.`]) {
      if (rules.some((matches) => matches(name))) hits.push(name)
    }
  }
  return hits
}

/** Uncopied databases that none of the rules in `value` covers entirely. */
export function uncovered(value: string, ignored: readonly string[]): string[] {
  const rules = splitRules(value)
  // A rule covers every table of db when it matches `db.` and ends in `%`: whatever follows the dot matches too.
  const covers = (rule: string, db: string) => /(^|[^\\])%$/.test(rule) && likeMatch(rule, `${db}.`, {caseInsensitive: true})
  return ignored.filter((db) => !rules.some((rule) => covers(rule, db)))
}

function splitRules(value: string): string[] {
  return value
    .split(',')
    .map((rule) => rule.trim())
    .filter((rule) => rule !== '')
}

export const databaseFilterCheck: Check = {
  id: 'database-filter',
  title: 'A subset of databases can be filtered on the replica',
  // The replica (without ARM) or ARM (with it): decided in run(), reported as not run there.
  needs: [],
  async run(ctx) {
    const filter = await replicationFilter(ctx.source, ctx.settings.databases)
    if (!filter) {
      return {status: 'pass', message: `datain copies every user database of the source (${listText(ctx.databases)}), so the replica needs no replication filter.`}
    }
    const copied = await copiedTables(ctx)
    const selfHits = filterHits(filter.value, copied)
    const risk = `Azure's procedures replicate the whole binary log, so a write on the source to ${listText(filter.ignored)}, which ${filter.ignored.length > 1 ? 'are' : 'is'} not copied, would stop replication with error 1146`
    if (selfHits.length > 0) {
      return refuse(ctx, {
        message: `The databases left out (${listText(filter.ignored)}) cannot be filtered without also skipping copied tables (${listText(selfHits)}): replicate_wild_ignore_table splits its value at commas and matches names as patterns.`,
        fix: 'Copy those databases too (add them to --databases), or rename the databases whose names hold a comma.',
        offenders: filter.ignored,
        risk,
      })
    }
    if (ctx.settings.target === 'mariadb') {
      return {
        status: 'pass',
        message: `datain will SET GLOBAL ${FILTER_PARAMETER} = '${filter.value}' on the replica, with its threads stopped, so that it skips the databases left out, and print the my.cnf line that keeps it.`,
      }
    }
    return ctx.arm ? viaArm(ctx, filter, risk) : byHand(ctx, filter, copied, risk)
  },
}

async function copiedTables(ctx: PreflightContext): Promise<Array<{database: string; tables: string[]}>> {
  const [tables, foldCase] = [await selectedTables(ctx), await foldsNameCase(ctx.source)]
  return ctx.databases.map((database) => {
    const isThis = schemaMatcher([database], foldCase)
    return {database, tables: tables.filter((t) => isThis(t.database)).map((t) => t.table)}
  })
}

async function viaArm(ctx: PreflightContext, filter: ReplicationFilter, risk: string): Promise<Omit<CheckResult, 'id' | 'title'>> {
  const {client, target} = ctx.arm!
  let current: string | undefined
  try {
    const configuration = await client.configurations.get(target.resourceGroup, target.server, FILTER_PARAMETER)
    current = configuration.value ?? ''
  } catch (error) {
    // The server was just read through ARM: a 404 here means this server has no such parameter.
    if (!isRestError(error) || error.statusCode !== 404) throw armError(target, `read the server parameter ${FILTER_PARAMETER}`, error)
    return refuse(ctx, {
      message: `The server '${target.server}' offers no ${FILTER_PARAMETER} parameter through Azure Resource Manager, so the ${plural(filter.ignored.length, 'database')} left out (${listText(filter.ignored)}) cannot be filtered.`,
      fix: `Copy every database (leave out --databases), or check in the Azure portal (Server parameters) whether the server lists ${FILTER_PARAMETER}.`,
      offenders: filter.ignored,
      risk,
    })
  }
  return {
    status: 'pass',
    message:
      `datain will set ${FILTER_PARAMETER} to '${filter.value}' so that the replica skips the databases left out` +
      (current && current !== filter.value ? ` (it is '${current}' now)` : '') +
      '.',
  }
}

async function byHand(
  ctx: PreflightContext,
  filter: ReplicationFilter,
  copied: Array<{database: string; tables: string[]}>,
  risk: string,
): Promise<Omit<CheckResult, 'id' | 'title'>> {
  if (!ctx.replica) return {status: 'not-run', message: `Not run: with --no-arm datain reads the filter on the replica, and ${ctx.replicaUnavailable ?? 'the replica is not reachable'}.`}
  const current = (await globalVariables(ctx.replica, [FILTER_PARAMETER]))[FILTER_PARAMETER] ?? ''
  const setByHand =
    `Set the server parameter ${FILTER_PARAMETER} to ${filter.value} (Azure portal: the server, Server parameters), or: ` +
    `az mariadb server configuration set --resource-group RG --server-name SERVER --name ${FILTER_PARAMETER} --value ${shellQuote(filter.value)}`
  const hits = filterHits(current, copied)
  if (hits.length > 0) {
    return {
      status: 'fail',
      message: `The replica's ${FILTER_PARAMETER} is '${current}', which also skips ${hits.length} copied tables (${listText(hits)}): they would stop receiving changes.`,
      fix: `${setByHand}.`,
      offenders: hits,
    }
  }
  const missing = uncovered(current, filter.ignored)
  if (missing.length === 0) {
    return {status: 'pass', message: `The replica's ${FILTER_PARAMETER} ('${current}') already skips every database left out (${listText(filter.ignored)}).`}
  }
  return refuse(ctx, {
    message: `With --no-arm datain cannot set ${FILTER_PARAMETER}, and the replica's value ('${current}') does not skip ${listText(missing)}.`,
    fix: `${setByHand} (SET GLOBAL ${FILTER_PARAMETER} = ${quoteString(filter.value)}; on a server where you hold SUPER), then run datain again.`,
    offenders: missing,
    risk,
  })
}

/** fail, or warn when the profile accepts the risk (`init --unfiltered-subset`). */
function refuse(ctx: PreflightContext, r: {message: string; fix: string; offenders: string[]; risk: string}): Omit<CheckResult, 'id' | 'title'> {
  if (ctx.settings.unfilteredSubset) {
    return {
      status: 'warn',
      message: `${r.message.replace(/\.$/, '')}; datain goes on because the profile was recorded with --unfiltered-subset, but ${r.risk}.`,
      fix: r.fix,
      offenders: r.offenders,
    }
  }
  return {
    status: 'fail',
    message: `${r.message.replace(/\.$/, '')}; ${r.risk}.`,
    fix: `${r.fix} Or record the profile with 'datain init --force --unfiltered-subset' to accept that risk.`,
    offenders: r.offenders,
  }
}

/** A POSIX shell word: single quotes, with embedded single quotes closed and escaped. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}
