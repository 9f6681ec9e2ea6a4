import type {Connection} from 'mariadb'
import {parseGrantLine} from '../preflight/grants.js'
import {nativePasswordHash} from '../state/passwords.js'
import {quoteAccount, sqlErrno} from '../lib/sql.js'
import {bound, grantStatement, passwordStatement, REPLICATION_HOST, sqlError, type Statement} from './replication-user-sql.js'

/** The account as the source shows it, reduced to what the step compares; undefined when it does not exist. */
export interface AccountState {
  /** undefined when not known (a dry run without a password yet). */
  passwordHash: string | undefined
  /** More than one authentication method (`IDENTIFIED VIA a OR b`). */
  severalAuth: boolean
  /** The REQUIRE clause, upper case, quoted values left out: `SSL`, `X509`, `NONE`… */
  require: string
  locked: boolean
  expired: boolean
  /** Global privileges but USAGE. */
  globalPrivileges: Set<string>
  grantOption: boolean
  /** Database, table and routine grants: REPLICATION SLAVE is global only, so each is an extra. */
  objectGrants: number
  roles: string[]
  defaultRole: boolean
  /** The proxied accounts of PROXY grants, as SHOW GRANTS writes them (quoted). */
  proxies: string[]
}

const QUOTED = /`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'/g
const ACCOUNT_PREFIX = /^CREATE USER\s+(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'|[^\s@]+)@(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'|\S+)/i
const PROXY_LINE = /^GRANT PROXY ON ((?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*')@(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*')) TO /i

export async function inspectAccount(source: Connection, user: string): Promise<AccountState | undefined> {
  const what = 'read the replication user on the source'
  let createUser: string
  try {
    const [row] = (await source.query('SHOW CREATE USER ?@?', [user, REPLICATION_HOST])) as Array<Record<string, string>>
    createUser = Object.values(row ?? {})[0] ?? ''
  } catch (error) {
    // 1133: no such account.
    if (sqlErrno(error) === 1133) return undefined
    throw sqlError(what, `SHOW CREATE USER ${quoteAccount({user, host: REPLICATION_HOST})}`, error)
  }
  let grants: string[]
  try {
    const rows = (await source.query('SHOW GRANTS FOR ?@?', [user, REPLICATION_HOST])) as Array<Record<string, string>>
    grants = rows.map((row) => Object.values(row)[0] ?? '')
  } catch (error) {
    throw sqlError(what, `SHOW GRANTS FOR ${quoteAccount({user, host: REPLICATION_HOST})}`, error)
  }
  return parseAccount(createUser, grants)
}

/** SHOW CREATE USER and SHOW GRANTS, read. Exported for unit tests. */
export function parseAccount(createUser: string, grants: readonly string[]): AccountState {
  const prefix = ACCOUNT_PREFIX.exec(createUser)
  // Everything after the account name is the server's own text: hashes and auth strings are the only quoted parts.
  const clauses = prefix ? createUser.slice(prefix[0].length) : createUser
  const bare = clauses.replace(QUOTED, "''").toUpperCase()
  const hash = /^\s+IDENTIFIED (?:BY PASSWORD|VIA mysql_native_password USING) '(\*[0-9A-F]{40})'/i.exec(clauses)?.[1]?.toUpperCase()
  const require = /\bREQUIRE\s+(.*?)(?=\s+(?:WITH|PASSWORD|ACCOUNT)\b|$)/.exec(bare)?.[1]?.trim() ?? 'NONE'
  const state: AccountState = {
    passwordHash: hash,
    severalAuth: /\bOR\b/.test(bare),
    require,
    locked: /\bACCOUNT LOCK\b/.test(bare),
    expired: /\bPASSWORD EXPIRE\b(?!\s+(?:INTERVAL|NEVER|DEFAULT)\b)/.test(bare),
    globalPrivileges: new Set(),
    grantOption: false,
    objectGrants: 0,
    roles: [],
    defaultRole: false,
    proxies: [],
  }
  for (const line of grants) {
    if (/^SET DEFAULT ROLE\s/i.test(line)) {
      state.defaultRole ||= !/^SET DEFAULT ROLE NONE\b/i.test(line)
      continue
    }
    const proxy = PROXY_LINE.exec(line)
    if (proxy) {
      state.proxies.push(proxy[1]!)
      continue
    }
    const grant = parseGrantLine(line)
    if (!grant) continue
    if (grant.kind === 'role') {
      state.roles.push(...grant.roles)
      continue
    }
    state.grantOption ||= grant.grantOption
    if (grant.on.level !== 'global') state.objectGrants++
    else for (const privilege of grant.privileges) if (privilege !== 'USAGE') state.globalPrivileges.add(privilege)
  }
  return state
}

/** The statements that bring datain's existing account to the wanted state; none when it is there. */
export function repairs(user: string, state: AccountState, requireSsl: boolean, password: string | undefined): Statement[] {
  const account = quoteAccount({user, host: REPLICATION_HOST})
  const on = (sql: string, text: string, what: string, values: unknown[] = bound(user)): Statement => ({sql, values, text, what})
  const statements: Statement[] = []

  const hash = password === undefined ? undefined : nativePasswordHash(password)
  const setPassword = hash === undefined || state.passwordHash !== hash || state.severalAuth || state.expired
  const wantRequire = requireSsl ? 'SSL' : 'NONE'
  const clauses: string[] = []
  if (state.require !== wantRequire) clauses.push(`REQUIRE ${wantRequire}`)
  if (state.locked) clauses.push('ACCOUNT UNLOCK')
  if (setPassword || clauses.length > 0) {
    const rest = clauses.map((c) => ` ${c}`).join('')
    const what = 'repair the replication user'
    const alter: Statement = setPassword ? passwordStatement(user, password, what, {rest}) : on(`ALTER USER ?@?${rest}`, `ALTER USER ${account}${rest}`, what)
    statements.push(alter)
  }

  // REVOKE ALL takes granted roles too, and needs no more than CREATE USER (a role's own REVOKE needs its ADMIN OPTION).
  const extras =
    [...state.globalPrivileges].some((p) => p !== 'REPLICATION SLAVE') || state.grantOption || state.objectGrants > 0 || state.roles.length > 0
  if (extras) {
    statements.push(on('REVOKE ALL PRIVILEGES, GRANT OPTION FROM ?@?', `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${account}`, 'revoke the replication user\'s other privileges'))
  }
  if (extras || !state.globalPrivileges.has('REPLICATION SLAVE')) statements.push(grantStatement(user))
  // Last, so that a source user without the privileges they need leaves a working account behind.
  if (state.defaultRole) {
    const text = `SET DEFAULT ROLE NONE FOR ${account}`
    // 1044: setting another account's default role needs UPDATE on the mysql database.
    statements.push({...on('SET DEFAULT ROLE NONE FOR ?@?', text, 'clear the replication user\'s default role'), hint: ` Run it as an administrator (${text};), then 'datain start' again.`})
  }
  for (const proxied of state.proxies) {
    // `proxied` is SHOW GRANTS' own quoting of an account, spliced back as it came.
    const text = `REVOKE PROXY ON ${proxied} FROM ${account}`
    // 1698: revoking PROXY needs that PROXY privilege WITH GRANT OPTION.
    statements.push({...on(`REVOKE PROXY ON ${proxied} FROM ?@?`, text, 'revoke a PROXY grant from the replication user'), hint: ` Run it as an administrator (${text};), then 'datain start' again.`})
  }
  return statements
}
