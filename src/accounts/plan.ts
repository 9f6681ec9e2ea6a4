import {MASK} from '../lib/redact.js'
import {type Account, quoteAccount, quoteIdentifier} from '../lib/sql.js'
import {AUTH_UNIT, definitionUnits, grantable, renderPrivilege, renderTarget} from './grants.js'
import {tokenize} from '../snapshot/objects/tokens.js'
import type {Authentication} from './parse.js'
import {accountParam, type AccountDefinition, type AdminPowers} from './read.js'

/** One statement for the replica: `?` bound to `values`; `text` is what people see, hashes as `***`. */
export interface PlannedStatement {
  sql: string
  values: string[]
  text: string
  /** Statements run in phases across accounts, so that every role exists before it is granted. */
  phase: 0 | 1 | 2 | 3 | 4
  /** CREATE USER / CREATE ROLE: the account is datain's from then on. */
  creates?: boolean
}

/**
 * `skipped`: not copied at all, the reason in `leftOut`.
 * `complete`: an account datain created in an earlier run that stopped half-way (its journal says
 * so), holding part of what it should and nothing else: the missing grants are added.
 */
export type AccountAction = 'create' | 'unchanged' | 'differs' | 'replace' | 'complete' | 'skipped'

export interface AccountPlan {
  account: Account
  /** `'u'@'h'`, or `'r'` for a role. */
  name: string
  role: boolean
  action: AccountAction
  statements: PlannedStatement[]
  /** What is left out, as `PRIVILEGE ON target: why` (the admin cannot grant it, or the object is missing). */
  leftOut: string[]
  /** Where the replica's account differs from the source's (action `differs` or `replace`). */
  differences: string[]
}

class Builder {
  readonly statements: PlannedStatement[] = []
  constructor(private readonly account: Account) {}

  /** `parts`: SQL text, `{account}` for this account bound, `{secret}` for a bound hash shown as `***`. */
  add(phase: PlannedStatement['phase'], ...parts: Array<string | {account: true} | {secrets: string[]; clause: string}>): void {
    let sql = ''
    let text = ''
    const values: string[] = []
    for (const part of parts) {
      if (typeof part === 'string') {
        sql += part
        text += part
      } else if ('account' in part) {
        const who = accountParam(this.account)
        sql += who.sql
        values.push(...who.values)
        text += quoteAccount(this.account)
      } else {
        sql += part.clause
        values.push(...part.secrets)
        text += part.clause.replaceAll('?', `'${MASK}'`)
      }
    }
    this.statements.push({sql, values, text, phase, ...(/^CREATE (USER|ROLE) /.test(sql) ? {creates: true} : {})})
  }
}

/**
 * What to do for one account: the source's definition reduced to what the replica's admin can give,
 * compared with what the replica has. Same → nothing; absent → create; different → left alone
 * (reported) unless `replace`.
 */
export function planAccount(
  source: AccountDefinition,
  existing: AccountDefinition | undefined,
  admin: AdminPowers,
  options: {replace: boolean; createdByDatain: boolean; missingObjects: ReadonlySet<string>},
): AccountPlan {
  const {grants, leftOut} = grantable(source, admin, options.missingObjects)
  leftOut.push(...source.unsupported.map((line) => `${line}: datain does not copy this kind of grant; give it by hand`))
  const wanted: AccountDefinition = {...source, grants}
  const name = quoteAccount(source.account)
  const plan: AccountPlan = {account: source.account, name, role: source.role, action: 'create', statements: [], leftOut, differences: []}
  // Never create a user without the way it logs in: that would be an account with no password.
  if (!source.role && !source.auth) {
    return {...plan, action: 'skipped', leftOut: ['the whole account: datain could not read how it logs in (SHOW CREATE USER); create it by hand']}
  }
  if (existing) {
    const want = definitionUnits(wanted, admin.known)
    const have = definitionUnits(existing, admin.known)
    const missing = [...want].filter((u) => !have.has(u))
    const extra = [...have].filter((u) => !want.has(u))
    if (missing.length === 0 && extra.length === 0) return {...plan, action: 'unchanged'}
    const authDiffers = missing.some((u) => u.startsWith(AUTH_UNIT))
    const shown = (units: string[]) => units.filter((u) => !u.startsWith(AUTH_UNIT))
    plan.differences = [
      ...(authDiffers ? ['authentication (plugin, hash or account options) differs'] : []),
      ...shown(missing).map((u) => `missing on the replica: ${u}`),
      ...shown(extra).map((u) => `only on the replica: ${u}`),
    ]
    if (options.createdByDatain && extra.length === 0) return {...plan, action: 'complete', statements: grantStatements(source.account, wanted)}
    if (!options.replace) return {...plan, action: 'differs'}
    plan.action = 'replace'
  }
  const b = new Builder(source.account)
  const auth = wanted.auth
  const authParts = auth ? [{clause: auth.clause ? ` ${auth.clause}` : '', secrets: auth.values}, auth.options ? ` ${auth.options}` : ''] : []
  if (!existing) {
    if (source.role) b.add(0, 'CREATE ROLE ', {account: true})
    else b.add(0, 'CREATE USER ', {account: true}, ...authParts)
  } else {
    if (!source.role && auth) b.add(0, 'ALTER USER ', {account: true}, ...alterParts(auth, existing.auth))
    b.add(1, 'REVOKE ALL PRIVILEGES, GRANT OPTION FROM ', {account: true})
    for (const r of existing.roles) for (const role of r.roles) b.add(1, `REVOKE ${quoteIdentifier(role)} FROM `, {account: true})
    if (existing.defaultRole && !source.role) b.add(1, 'SET DEFAULT ROLE NONE FOR ', {account: true})
  }
  return {...plan, statements: [...b.statements, ...grantStatements(source.account, wanted)]}
}

/**
 * ALTER USER leaves alone what it does not name: REQUIRE and ACCOUNT LOCK that only the replica's
 * account has are undone explicitly (named only then: ACCOUNT UNLOCK needs 10.4). Resource limits
 * only on the replica stay.
 */
function alterParts(auth: Authentication, current: Authentication | undefined): Array<string | {clause: string; secrets: string[]}> {
  const has = (text: string, ...words: string[]) => {
    const found = [...tokenize(text)].filter((t) => t.kind === 'word').map((t) => text.slice(t.start, t.end).toUpperCase())
    return words.every((w) => found.includes(w))
  }
  const require = current && has(current.options, 'REQUIRE') && !has(auth.options, 'REQUIRE') ? ' REQUIRE NONE' : ''
  const unlock = current && has(current.options, 'ACCOUNT', 'LOCK') && !has(auth.options, 'ACCOUNT', 'LOCK') ? ' ACCOUNT UNLOCK' : ''
  return [{clause: auth.clause ? ` ${auth.clause}` : '', secrets: auth.values}, require, auth.options ? ` ${auth.options}` : '', unlock]
}

/** GRANT privileges, GRANT roles, SET DEFAULT ROLE: each adds what is missing and changes nothing already there. */
function grantStatements(account: Account, wanted: AccountDefinition): PlannedStatement[] {
  const b = new Builder(account)
  for (const g of wanted.grants) {
    b.add(2, `GRANT ${g.privileges.map(renderPrivilege).join(', ')} ON ${renderTarget(g.on)} TO `, {account: true}, g.grantOption ? ' WITH GRANT OPTION' : '')
  }
  for (const r of wanted.roles) for (const role of r.roles) b.add(3, `GRANT ${quoteIdentifier(role)} TO `, {account: true}, r.adminOption ? ' WITH ADMIN OPTION' : '')
  if (wanted.defaultRole && !wanted.role) b.add(4, `SET DEFAULT ROLE ${quoteIdentifier(wanted.defaultRole)} FOR `, {account: true})
  return b.statements
}

/** Every statement of every plan, in the order they must run: by phase, then by account. */
export function orderedStatements(plans: readonly AccountPlan[]): Array<{plan: AccountPlan; statement: PlannedStatement}> {
  const all = plans.flatMap((plan) => plan.statements.map((statement) => ({plan, statement})))
  return all.sort((a, b) => a.statement.phase - b.statement.phase)
}
