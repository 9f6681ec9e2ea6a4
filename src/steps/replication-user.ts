import {DatainError, ExitCode} from '../lib/errors.js'
import {existingReplicationPassword, matchesFingerprint, nativePasswordHash, passwordFingerprint} from '../state/passwords.js'
import {quoteAccount, quoteString} from '../lib/sql.js'
import {recordAccountPassword} from './replication-password.js'
import {type AccountState, inspectAccount, repairs} from './replication-user-account.js'
import {creation, execute, REPLICATION_HOST} from './replication-user-sql.js'
import type {PlannedAction, Step, StepContext} from './step.js'
import type {ReplicationUserOutput} from '../state/step-outputs.js'

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
