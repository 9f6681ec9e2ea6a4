import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../lib/errors.js'
import {parseGrantLine} from '../preflight/grants.js'
import {existingReplicationPassword, matchesFingerprint, nativePasswordHash, passwordFingerprint} from '../state/passwords.js'
import {MASK, redact} from '../lib/redact.js'
import {quoteAccount, quoteString, sqlErrno} from '../lib/sql.js'
import {recordAccountPassword} from './replication-password.js'
import type {PlannedAction, Step, StepContext} from './step.js'
import type {ReplicationUserOutput} from '../state/step-outputs.js'

/** The replica connects from Azure's addresses, which change: the account is for any host. */
export const REPLICATION_HOST = '%'

export type {ReplicationUserOutput}

/**
 * The replication user on the source: `REPLICATION SLAVE ON *.*` and nothing else, `REQUIRE SSL`
 * when the source speaks TLS, the password of {@link StepContext.replicationPassword}.
 *
 * Safe to re-run: it reads the account first (SHOW CREATE USER, SHOW GRANTS) and issues only the
 * statements that bring it to that state, so a second run changes nothing. An account of that name
 * that datain did not create stops the step (E_REPLICATION_USER_EXISTS): it is never taken over.
 * datain's own is recognised from the checkpoint: the step's output (`created`), or the marker
 * `{creating: true}` it records before CREATE USER, so that a crash between the two still counts.
 */
export const replicationUserStep: Step<'replication-user'> = {
  id: 'replication-user',
  title: 'Replication user',
  describe: 'creates the account the replica logs in with: REPLICATION SLAVE only, TLS required when the source has TLS',

  async plan(ctx): Promise<PlannedAction[]> {
    const user = checkedUserName(ctx.settings.replicationUser)
    const requireSsl = sourceSpeaksTls(ctx)
    const account = quoteAccount({user, host: REPLICATION_HOST})
    const actions: PlannedAction[] = [{on: 'source', kind: 'check', text: `SHOW CREATE USER ${account}; SHOW GRANTS FOR ${account}`}]
    const state = await inspectAccount(await ctx.source(), user)
    if (state && !recordedAsOwn(ctx, user, state)) {
      return [...actions, {on: 'source', kind: 'note', text: `Would stop: ${account} exists and datain did not create it (E_REPLICATION_USER_EXISTS).`}]
    }
    // No password is generated for a dry run: one that would be generated differs from any on the server.
    const known = await existingReplicationPassword(ctx.store)
    const statements = state ? repairs(user, state, requireSsl, known?.password) : creation(user, requireSsl)
    if (statements.length === 0) return [...actions, {on: 'source', kind: 'note', text: `${account} is datain's and as it should be: nothing to change.`}]
    return [...actions, ...statements.map((s): PlannedAction => ({on: 'source', kind: 'sql', text: s.text}))]
  },

  async run(ctx): Promise<ReplicationUserOutput> {
    const user = checkedUserName(ctx.settings.replicationUser)
    const requireSsl = sourceSpeaksTls(ctx)
    const account = quoteAccount({user, host: REPLICATION_HOST})
    const source = await ctx.source()
    const state = await inspectAccount(source, user)
    if (state && !recordedAsOwn(ctx, user, state)) throw foreignAccount(ctx, account)
    const password = await ctx.replicationPassword()
    // On every run, since the runner starts each run's record of the step afresh. Before CREATE USER the
    // marker carries a fingerprint of the hash the account gets: after a crash right there, an account
    // with that hash is datain's, and one that someone else created is not.
    await ctx.progress(state ? {created: true, user} : {creating: true, user, accountHash: passwordFingerprint(nativePasswordHash(password))})

    const statements = state ? repairs(user, state, requireSsl, password) : creation(user, requireSsl, password)
    for (const statement of statements) {
      try {
        await execute(ctx, source, statement)
      } catch (error) {
        // Refused (not a lost connection, after which it may have gone through): datain created nothing,
        // and an account that someone creates by that name later is theirs.
        if (statement.creates && error instanceof DatainError && error.code === 'E_REPLICATION_USER') await ctx.progress({creating: false})
        throw error
      }
      if (statement.creates) await ctx.progress({created: true})
    }

    // What the account was given, so that a later link with another password gives it that one first.
    await recordAccountPassword(ctx.store, password)
    const action = !state ? 'created' : statements.length > 0 ? 'repaired' : 'unchanged'
    if (action !== 'unchanged') {
      ctx.ui.info(`${action === 'created' ? 'Created' : 'Repaired'} ${account} on the source: REPLICATION SLAVE only${requireSsl ? ', TLS required' : ''}.`)
      await ctx.store.journal('replication-user', {user, action, statements: statements.map((s) => s.text)})
    }
    return {user, host: REPLICATION_HOST, created: true, requireSsl, action}
  },
}

/**
 * The name as MariaDB stores it, or E_REPLICATION_USER_NAME. Characters beyond the Basic
 * Multilingual Plane (emoji) become `?` in mysql.user (utf8mb3), and trailing spaces are dropped
 * (CHAR column): either would make the account another name than the one asked for.
 */
/**
 * The source speaks TLS whenever datain's own connection to it is TLS (`--source-ssl on`, the
 * default, which fails on a source without it); then the account is REQUIRE SSL, CA file or not.
 */
function sourceSpeaksTls(ctx: StepContext): boolean {
  return ctx.settings.source.ssl !== 'off'
}

export function checkedUserName(name: string): string {
  const reason =
    name.length === 0
      ? 'it is empty'
      : [...name].length > 80
        ? 'it is longer than 80 characters (the limit of MariaDB 10.2 and 10.3)'
        : /[\u{10000}-\u{10FFFF}]/u.test(name)
          ? 'it holds a character beyond the Basic Multilingual Plane (an emoji, say), which MariaDB stores as "?"'
          : /^\s|\s$/.test(name)
            ? 'it starts or ends with a space, which MariaDB drops or keeps depending on the statement'
            : /[\0]/.test(name)
              ? 'it holds a NUL character'
              : undefined
  if (!reason) return name
  throw new DatainError(`The replication user name ${quoteString(name)} cannot be used: ${reason}.`, {
    code: 'E_REPLICATION_USER_NAME',
    exit: ExitCode.usage,
    suggestions: ['datain init --replication-user datain_repl --force'],
  })
}

/** Whether the checkpoint says this account is datain's: a finished run's output, or an unfinished run's record. */
function recordedAsOwn(ctx: StepContext, user: string, state: AccountState): boolean {
  return createdByDatain(ctx.outputs['replication-user'], user, state) || createdByDatain(ctx.previous?.output, user, state, {trustBareMarker: true})
}

/**
 * Whether a record of the replication-user step says that datain created `state`'s account:
 * `created`, recorded as soon as CREATE USER succeeded; or the marker recorded before it
 * (`creating`) by a run that died before it could record more, and then only when the account has
 * the hash that run gave it (`accountHash`). A marker without that fingerprint (an older datain's)
 * proves nothing about who created the account; the step trusts it as it always did, the cleanup,
 * which would drop the account, does not.
 */
export function createdByDatain(
  output: Record<string, unknown> | undefined,
  user: string,
  state: Pick<AccountState, 'passwordHash'>,
  {trustBareMarker = false} = {},
): boolean {
  if (!output || (output.user !== undefined && output.user !== user)) return false
  if (output.created === true) return true
  if (output.creating !== true) return false
  if (output.accountHash === undefined) return trustBareMarker
  return state.passwordHash !== undefined && matchesFingerprint(state.passwordHash, output.accountHash)
}

function foreignAccount(ctx: StepContext, account: string): DatainError {
  const init = `datain init --profile ${ctx.profile} --replication-user OTHER_NAME --force`
  return new DatainError(
    `The account ${account} already exists on the source, and datain did not create it. datain does not take it over: ` +
      `it would change its password and privileges, and 'datain stop --cleanup' would later drop it. ` +
      `If nothing uses it, drop it on the source (DROP USER ${account};) and run 'datain start --profile ${ctx.profile}' again; ` +
      `otherwise choose another name: ${init}.`,
    {code: 'E_REPLICATION_USER_EXISTS', exit: ExitCode.failed, suggestions: [`DROP USER ${account};`, init]},
  )
}

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

/** One statement: `sql` with `?` for the bound values; `text` for people and the journal, secrets as `***`. */
export interface Statement {
  sql: string
  values: unknown[]
  text: string
  what: string
  /** Said when the source refuses it for lack of a privilege. */
  hint?: string
  /** Creates the account: ownership is recorded as soon as it succeeds. */
  creates?: boolean
  /**
   * Run instead when the source refuses a password hash: with a password-validation plugin and
   * strict_password_validation (the default) MariaDB accepts only the password itself (error 1290
   * for CREATE USER, 1396 for ALTER USER).
   */
  withPlainPassword?: Statement
}

const bound = (user: string) => [user, REPLICATION_HOST]

function creation(user: string, requireSsl: boolean, password?: string): Statement[] {
  const account = quoteAccount({user, host: REPLICATION_HOST})
  const require = requireSsl ? ' REQUIRE SSL' : ''
  const what = 'create the replication user'
  return [
    {
      // The hash, not the password: CREATE USER goes to the binary log and the process list as written.
      sql: `CREATE USER ?@? IDENTIFIED BY PASSWORD ?${require}`,
      values: [...bound(user), password === undefined ? undefined : nativePasswordHash(password)],
      text: `CREATE USER ${account} IDENTIFIED BY PASSWORD '${MASK}'${require}`,
      what,
      creates: true,
      withPlainPassword: {
        sql: `CREATE USER ?@? IDENTIFIED BY ?${require}`,
        values: [...bound(user), password],
        text: `CREATE USER ${account} IDENTIFIED BY '${MASK}'${require}`,
        what,
        creates: true,
      },
    },
    grantStatement(user),
  ]
}

function grantStatement(user: string): Statement {
  return {
    sql: 'GRANT REPLICATION SLAVE ON *.* TO ?@?',
    values: bound(user),
    text: `GRANT REPLICATION SLAVE ON *.* TO ${quoteAccount({user, host: REPLICATION_HOST})}`,
    what: 'grant REPLICATION SLAVE to the replication user',
  }
}

/** The statements that bring datain's existing account to the wanted state; none when it is there. */
function repairs(user: string, state: AccountState, requireSsl: boolean, password: string | undefined): Statement[] {
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

/**
 * `ALTER USER … IDENTIFIED BY PASSWORD '<hash>'` (then `rest`): the hash, so that the password
 * reaches neither the binary log nor the process list; the password itself only where the source
 * validates passwords and refuses hashes. `ifExists` once the snapshot is taken: the statement is
 * then in the binary log after the replica's starting point, and the replica, which has no such
 * account, would stop on a plain ALTER USER (error 1396).
 */
export function passwordStatement(user: string, password: string | undefined, what: string, {rest = '', ifExists = false} = {}): Statement {
  const account = quoteAccount({user, host: REPLICATION_HOST})
  const alter = ifExists ? 'ALTER USER IF EXISTS' : 'ALTER USER'
  return {
    sql: `${alter} ?@? IDENTIFIED BY PASSWORD ?${rest}`,
    values: [...bound(user), password === undefined ? undefined : nativePasswordHash(password)],
    text: `${alter} ${account} IDENTIFIED BY PASSWORD '${MASK}'${rest}`,
    what,
    withPlainPassword: {sql: `${alter} ?@? IDENTIFIED BY ?${rest}`, values: [...bound(user), password], text: `${alter} ${account} IDENTIFIED BY '${MASK}'${rest}`, what},
  }
}

export async function execute(ctx: Pick<StepContext, 'ui'>, source: Connection, statement: Statement): Promise<void> {
  try {
    await source.query(statement.sql, statement.values)
    return
  } catch (error) {
    const errno = sqlErrno(error)
    if (!statement.withPlainPassword || !(errno === 1290 || errno === 1396 || errno === 1819)) throw sqlError(statement.what, statement.text, error, statement.hint)
  }
  const plain = statement.withPlainPassword
  try {
    await source.query(plain.sql, plain.values)
  } catch (error) {
    throw sqlError(plain.what, plain.text, error, plain.hint)
  }
  ctx.ui.info(
    "The source validates passwords (strict_password_validation with a validation plugin), so it took the replication user's password itself " +
      'rather than its hash; the statement, with the password, is in its binary log.',
  )
}

/** A failed statement as a paragraph: what datain tried, the server's words (secrets masked), and what to check. */
export function sqlError(what: string, text: string, error: unknown, hint?: string): DatainError {
  const errno = sqlErrno(error)
  const e = error as {sqlMessage?: string; message?: string; fatal?: boolean; code?: string}
  const detail = redact(e.sqlMessage ?? e.message ?? String(error))
  // The connector's message repeats the bound values (the password, its hash): the cause keeps only the server's words.
  const cause = Object.assign(new Error(detail), {errno, code: e.code})
  // The connector's own errors (45000 and up) mean the connection is gone, not that the SQL was refused.
  if (errno === undefined || errno >= 45_000 || e.fatal) {
    return new DatainError(`datain lost its connection to the source while it tried to ${what} (${detail}). Run 'datain start' again: the step checks what was done and goes on.`, {
      code: 'E_SOURCE_CONNECTION',
      exit: ExitCode.unreachable,
      cause,
    })
  }
  const denied = errno === 1227 || errno === 1044 || errno === 1045 || errno === 1142 || errno === 1410 || errno === 1698
  const privileges = !denied
    ? ''
    : (hint ?? " datain's source user needs CREATE USER, REPLICATION SLAVE WITH GRANT OPTION and SELECT on the mysql database to manage the replication user.")
  return new DatainError(`The source refused to ${what} (error ${errno}: ${detail}). The statement was: ${text}.${privileges}`, {
    code: 'E_REPLICATION_USER',
    exit: ExitCode.failed,
    cause,
  })
}
