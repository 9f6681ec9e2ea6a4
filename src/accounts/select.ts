import {DatainError, ExitCode} from '../lib/errors.js'
import {type Account, quoteAccount, sameAccount} from '../lib/sql.js'
import type {SourceAccount} from '../preflight/access/source-accounts.js'
import {tokenize, unquote} from '../snapshot/objects/tokens.js'

/** Accounts every server has, or Azure and MariaDB manage themselves: never copied. */
const SYSTEM_USERS = new Set(['root', 'mariadb.sys', 'azure_superuser', 'PUBLIC'])

export interface Exclusions {
  replicationUser: string
  /** The replica's own admin: copying the source's namesake over it would lock datain out. */
  replicaAdmin: Account
  /** datain's user on the source: its own, left out unless named in --users. */
  sourceAdmin: Account
}

/** Why an account is never copied, or undefined when it may be. */
export function neverCopied(account: SourceAccount, ex: Exclusions): string | undefined {
  if (SYSTEM_USERS.has(account.user) || account.user === '' || (account.user === 'mysql' && account.host === 'localhost')) return 'a system account'
  if (!account.role && account.user === ex.replicationUser) return "datain's replication user"
  if (!account.role && sameAccount({user: account.user, host: account.host}, ex.replicaAdmin)) return "the replica's admin"
  return undefined
}

/** The flag's text for a message: quoted and escaped as JSON, and a huge one cut, saying how long it was. */
function quotedFlag(text: string): string {
  const chars = [...text]
  return chars.length > 120 ? `${JSON.stringify(`${chars.slice(0, 120).join('')}…`)} (${chars.length} characters)` : JSON.stringify(text)
}

/**
 * Parses `--users "'u'@'h','app'@'%',reporting"` with the SQL tokenizer: each item a name (quoted
 * with '…', "…" or `…`, or bare) with an optional @host; without a host, a role (or any host of that user).
 */
export function parseUsersFlag(text: string): Array<{user: string; host?: string}> {
  const tokens = [...tokenize(text)].filter((t) => t.kind !== 'space')
  const items: Array<{user: string; host?: string}> = []
  const bad = (why: string) =>
    new DatainError(`--users ${quotedFlag(text)} is not a list of accounts: ${why}. Write them as SHOW GRANTS does, e.g. --users "'app'@'%','report'@'10.0.0.%',analyst_role".`, {
      code: 'E_USERS_SYNTAX',
      exit: ExitCode.usage,
    })
  const isName = (i: number) => ['string', 'identifier', 'word'].includes(tokens[i]?.kind ?? '')
  const symbol = (i: number, s: string) => tokens[i]?.kind === 'symbol' && text.slice(tokens[i]!.start, tokens[i]!.end) === s
  let i = 0
  for (;;) {
    if (!isName(i)) {
      throw bad(tokens[i] ? `expected an account name at "${text.slice(tokens[i]!.start, tokens[i]!.start + 20)}"` : 'an account name is missing')
    }
    const item: {user: string; host?: string} = {user: unquote(text, tokens[i]!)}
    i++
    if (symbol(i, '@')) {
      if (!isName(i + 1)) throw bad('a host name must follow @')
      item.host = unquote(text, tokens[i + 1]!)
      i += 2
    }
    items.push(item)
    if (i === tokens.length) break
    if (!symbol(i, ',')) throw bad(`unexpected "${text.slice(tokens[i]!.start, tokens[i]!.end)}"`)
    i++
  }
  return items
}

/**
 * The accounts to copy: those named (each must exist on the source and may be copied), or every
 * account but the never-copied ones and datain's own; then the roles they hold, so that GRANT role works.
 */
export function selectAccounts(
  all: readonly SourceAccount[],
  named: Array<{user: string; host?: string}> | undefined,
  ex: Exclusions,
  rolesOf: (a: SourceAccount) => string[],
): SourceAccount[] {
  let chosen: SourceAccount[]
  if (named) {
    chosen = []
    for (const n of named) {
      const found = all.filter((a) => a.user === n.user && (n.host === undefined ? true : !a.role && (a.host ?? '').toLowerCase() === n.host.toLowerCase()))
      const shown = n.host === undefined ? quoteAccount({user: n.user}) : quoteAccount(n)
      if (found.length === 0) throw usage(`${shown} is no account or role of the source.`, 'List them on the source with: SELECT User, Host FROM mysql.user;')
      for (const a of found) {
        const why = neverCopied(a, ex)
        if (why) throw usage(`${shown} is ${why}, which datain never copies.`, 'Leave it out of --users.')
        if (!chosen.includes(a)) chosen.push(a)
      }
    }
  } else {
    chosen = all.filter((a) => !neverCopied(a, ex) && (a.role || !sameAccount({user: a.user, host: a.host}, ex.sourceAdmin)))
  }
  // Roles granted to roles: follow the chain until nothing new comes in.
  for (let k = 0; k < chosen.length; k++) {
    for (const name of rolesOf(chosen[k]!)) {
      const role = all.find((a) => a.role && a.user === name)
      if (role && !chosen.includes(role) && !neverCopied(role, ex)) chosen.push(role)
    }
  }
  return chosen
}

function usage(message: string, fix: string): DatainError {
  return new DatainError(`${message} Nothing was changed.`, {code: 'E_USERS', exit: ExitCode.usage, suggestions: [fix]})
}
