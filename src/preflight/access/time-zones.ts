import {globalVariables, isAccessDenied, placeholders, quoteQualified, quoteString} from '../../lib/sql.js'
import type {Check} from '../check.js'
import {selectedObjects} from './objects.js'

/** SYSTEM and offsets such as +01:00 need no time zone tables; anything else is a name. */
export function isNamedTimeZone(value: string): boolean {
  const v = value.trim()
  return v !== '' && v.toUpperCase() !== 'SYSTEM' && !/^[+-]?\d{1,2}:\d{2}$/.test(v)
}

/**
 * The time zone names a body passes as string literals to CONVERT_TZ(dt, from, to). Only literals
 * are read: a zone held in a column or variable cannot be known before it runs.
 */
export function convertTzNames(body: string): string[] {
  const names: string[] = []
  for (const match of body.matchAll(/CONVERT_TZ\s*\(/gi)) {
    const args = topLevelArguments(body, match.index + match[0].length)
    for (const arg of args.slice(1, 3)) {
      const literal = stringLiteral(arg.trim())
      if (literal !== undefined && isNamedTimeZone(literal)) names.push(literal)
    }
  }
  return names
}

/**
 * Named time zones exist on the replica only once its time zone tables are loaded (Azure's start
 * empty): a replicated statement in an unknown zone stops the replica (error 1298), and
 * CONVERT_TZ with an unknown name returns NULL.
 */
export const timeZones: Check = {
  id: 'time-zones',
  title: 'Named time zones',
  needs: [],
  async run(ctx) {
    const uses: Array<{where: string; zone: string}> = []
    const globalZone = (await globalVariables(ctx.source, ['time_zone'])).time_zone ?? 'SYSTEM'
    if (isNamedTimeZone(globalZone)) uses.push({where: '@@global.time_zone', zone: globalZone})
    for (const o of await selectedObjects(ctx)) {
      for (const zone of new Set(convertTzNames(o.body ?? ''))) uses.push({where: `${o.kind} ${quoteQualified(o.database, o.name)}`, zone})
    }
    if (uses.length === 0) {
      return {status: 'pass', message: `The source uses no named time zone (@@global.time_zone=${globalZone}, and no CONVERT_TZ with a zone name in the selected databases).`}
    }

    const zones = [...new Set(uses.map((u) => u.zone))]
    const known = new Set<string>()
    let replicaNote: string
    if (!ctx.replica) {
      replicaNote = `datain could not check the replica's time zone tables (${ctx.replicaUnavailable ?? 'the replica is not reachable'})`
    } else {
      try {
        const rows: Array<{name: string}> = await ctx.replica.query(
          `SELECT Name AS name FROM mysql.time_zone_name WHERE Name IN (${placeholders(zones.length)})`,
          zones,
        )
        for (const r of rows) known.add(r.name.toLowerCase())
        replicaNote = `the replica's mysql.time_zone_name lacks ${zones.filter((z) => !known.has(z.toLowerCase())).map(quoteString).join(', ')}`
      } catch (error) {
        if (!isAccessDenied(error)) throw error
        replicaNote = "the replica's admin may not read mysql.time_zone_name, so datain could not check it"
      }
    }
    const unknown = uses.filter((u) => !known.has(u.zone.toLowerCase()))
    if (unknown.length === 0) {
      return {status: 'pass', message: `The source uses the named time ${zones.length === 1 ? 'zone' : 'zones'} ${zones.map(quoteString).join(', ')}, which the replica's time zone tables hold.`}
    }
    return {
      status: 'warn',
      message:
        `The source uses named time zones (${uses.map((u) => `${u.where}: ${quoteString(u.zone)}`).join('; ')}) and ${replicaNote}: ` +
        `a replicated statement in an unknown zone stops the replica (error 1298), and CONVERT_TZ with an unknown name returns NULL.`,
      fix: `On the replica, as its admin, load Azure's time zone tables: CALL mysql.az_load_timezone(); or make the source use offsets such as '+01:00' instead of names.`,
      offenders: unknown.map((u) => `${u.where} uses ${quoteString(u.zone)}`),
    }
  },
}

/** The arguments of a call whose opening parenthesis ends at `start`, split at top-level commas. */
function topLevelArguments(text: string, start: number): string[] {
  const args: string[] = []
  let depth = 0
  let from = start
  for (let i = start; i < text.length; i++) {
    const c = text[i]!
    if (c === "'" || c === '"' || c === '`') {
      i = closingQuote(text, i)
    } else if (c === '(') {
      depth++
    } else if (c === ')') {
      if (depth === 0) {
        args.push(text.slice(from, i))
        return args
      }
      depth--
    } else if (c === ',' && depth === 0) {
      args.push(text.slice(from, i))
      from = i + 1
    }
  }
  return args
}

function closingQuote(text: string, start: number): number {
  const q = text[start]!
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\' && q !== '`') i++
    else if (text[i] === q) {
      if (text[i + 1] === q) i++
      else return i
    }
  }
  return text.length
}

/** The value of a '…' or "…" literal (with an optional _charset introducer), else undefined. */
function stringLiteral(arg: string): string | undefined {
  const m = /^(?:_\w+\s*)?(['"])([\s\S]*)\1$/.exec(arg)
  if (!m) return undefined
  const q = m[1]!
  return m[2]!.replaceAll(q + q, q).replace(/\\(.)/g, '$1')
}
