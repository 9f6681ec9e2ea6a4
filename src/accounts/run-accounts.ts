import type {Connection} from 'mariadb'
import {openSession} from '../engine/session.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {redact} from '../lib/redact.js'
import {type Account, isAccessDenied, parseUserAtHost, quoteAccount, sqlErrno} from '../lib/sql.js'
import {sourceAccounts} from '../preflight/access/source-accounts.js'
import {type AccountAction, type AccountPlan, orderedStatements, planAccount} from './plan.js'
import {type AccountDefinition, missingObjects, readAdminPowers, readDefinition, registerHashes} from './read.js'
import {parseUsersFlag, selectAccounts} from './select.js'

/** Journal event of each account or role datain created on the replica. */
const ACCOUNT_CREATED = 'account-created'

export interface AccountsOptions {
  home: string
  profile: string
  /** `--users` as typed; undefined: every account but the never-copied ones. */
  users?: string
  dryRun: boolean
  replace: boolean
  note(message: string): void
}

export interface AccountResult {
  account: string
  role: boolean
  /** `failed`: a statement was refused; what ran before it stays. */
  action: AccountAction | 'failed'
  /** The statements run (or, with --dry-run, that would run), hashes as `***`. */
  statements: string[]
  leftOut: string[]
  differences: string[]
  error?: string
}

export interface AccountsResult {
  dryRun: boolean
  accounts: AccountResult[]
  /** 0 everything copied as it is, 1 something left out, left alone or failed. */
  exitCode: ExitCode
}

/** `datain accounts`: copies the selected source accounts and roles, and their grants, to the replica. */
export async function runAccounts(options: AccountsOptions): Promise<AccountsResult> {
  // Bad --users is a usage error before anything connects.
  const named = options.users === undefined ? undefined : parseUsersFlag(options.users)
  const session = await openSession({home: options.home, profile: options.profile, lockFor: options.dryRun ? undefined : 'datain accounts', note: options.note})
  try {
    const source = await session.source()
    const replica = await session.replica()
    const created = new Set(
      (await session.store.readJournal()).filter((j) => j.event === ACCOUNT_CREATED).map((j) => String((j as {account?: unknown}).account)),
    )
    const plans = await planAll(source, replica, session.settings.replicationUser, named, {replace: options.replace, created})
    const results = options.dryRun
      ? plans.map((p) => result(p, p.action))
      : await apply(replica, plans, (name) => session.store.journal(ACCOUNT_CREATED, {account: name}))
    if (!options.dryRun) {
      await session.store.journal('accounts-copied', {accounts: results.map((r) => ({account: r.account, action: r.action, leftOut: r.leftOut.length}))})
    }
    const clean = results.every((r) => r.action !== 'differs' && r.action !== 'failed' && r.action !== 'skipped' && r.leftOut.length === 0)
    return {dryRun: options.dryRun, accounts: results, exitCode: clean ? ExitCode.ok : ExitCode.failed}
  } finally {
    await session.close()
  }
}

async function planAll(
  source: Connection,
  replica: Connection,
  replicationUser: string,
  named: Array<{user: string; host?: string}> | undefined,
  options: {replace: boolean; created: ReadonlySet<string>},
): Promise<AccountPlan[]> {
  const admin = await readAdminPowers(replica)
  const [row] = (await source.query('SELECT CURRENT_USER() AS user')) as Array<{user: string}>
  const {accounts} = await sourceAccounts(source)
  const definitions = new Map<string, AccountDefinition>()
  const key = (a: Account) => quoteAccount(a)
  const definitionOf = async (a: {user: string; host?: string; role: boolean}) => {
    const account: Account = a.role ? {user: a.user} : {user: a.user, host: a.host}
    if (!definitions.has(key(account))) {
      const d = await readAccount('source', source, account, a.role)
      if (d) definitions.set(key(account), d)
    }
    return definitions.get(key(account))
  }
  // Role grants are read before selection so that the roles a chosen account holds come along.
  for (const a of accounts) await definitionOf(a)
  const chosen = selectAccounts(accounts, named, {replicationUser, replicaAdmin: admin.account, sourceAdmin: parseUserAtHost(row!.user)}, (a) =>
    (definitions.get(key(a.role ? {user: a.user} : {user: a.user, host: a.host}))?.roles ?? []).flatMap((r) => r.roles),
  )
  const chosenDefinitions = (await Promise.all(chosen.map(definitionOf))).filter((d): d is AccountDefinition => d !== undefined)
  const missing = await missingObjects(replica, chosenDefinitions)
  const plans: AccountPlan[] = []
  for (const definition of chosenDefinitions) {
    registerHashes(definition)
    const existing = await readAccount('replica', replica, definition.account, definition.role)
    registerHashes(existing)
    const createdByDatain = options.created.has(quoteAccount(definition.account))
    plans.push(planAccount(definition, existing, admin, {replace: options.replace, createdByDatain, missingObjects: missing}))
  }
  return plans
}

/** datain's user may list accounts but not read their grants: say which privilege it needs. */
async function readAccount(side: 'source' | 'replica', conn: Connection, account: Account, role: boolean): Promise<AccountDefinition | undefined> {
  try {
    return await readDefinition(conn, account, role)
  } catch (error) {
    if (!isAccessDenied(error) && sqlErrno(error) !== 1227) throw error
    throw new DatainError(
      `datain's user on the ${side} may not read the grants of ${quoteAccount(account)} (SHOW GRANTS FOR / SHOW CREATE USER): ` +
        `${(error as Error).message.split('\n')[0]}. Nothing was changed.`,
      {code: 'E_ACCOUNTS_ACCESS', exit: ExitCode.failed, cause: error, suggestions: [`On the ${side}, as an administrator: GRANT SELECT ON mysql.* TO datain's user.`]},
    )
  }
}

/**
 * Runs the statements one per query; an account whose statement fails gets none of its later ones.
 * Each account created is journalled at once, so that a run stopped half-way completes it next time.
 */
async function apply(replica: Connection, plans: AccountPlan[], created: (name: string) => Promise<void>): Promise<AccountResult[]> {
  const failed = new Map<AccountPlan, string>()
  const ran = new Map<AccountPlan, string[]>()
  for (const {plan, statement} of orderedStatements(plans)) {
    if (failed.has(plan)) continue
    try {
      await replica.query(statement.sql, statement.values)
      ran.set(plan, [...(ran.get(plan) ?? []), statement.text])
      if (statement.creates) await created(plan.name)
    } catch (error) {
      const errno = (error as {errno?: number}).errno
      const text = (error as {text?: string}).text ?? (error as Error).message
      failed.set(plan, redact(`${statement.text}: ${text}${errno ? ` (error ${errno})` : ''}`))
    }
  }
  return plans.map((p) => {
    const error = failed.get(p)
    return {...result(p, error ? 'failed' : p.action), statements: ran.get(p) ?? [], ...(error ? {error} : {})}
  })
}

function result(plan: AccountPlan, action: AccountResult['action']): AccountResult {
  return {
    account: plan.name,
    role: plan.role,
    action,
    statements: plan.statements.map((s) => s.text),
    leftOut: plan.leftOut,
    differences: plan.differences,
  }
}
