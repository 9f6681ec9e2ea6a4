import type {Connection} from 'mariadb'
import type {ProfileStore} from '../state/profile-store.js'
import type {PasswordRecord} from '../state/step-outputs.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {matchesFingerprint, nativePasswordHash, passwordFingerprint, REPLICATION_PASSWORD_ENV} from '../state/passwords.js'
import {quoteAccount} from '../lib/sql.js'
import {redact} from '../lib/redact.js'
import {checkedUserName} from './replication-user.js'
import {inspectAccount} from './replication-user-account.js'
import {passwordStatement, REPLICATION_HOST, sqlError, type Statement} from './replication-user-sql.js'
import type {StepContext} from './step.js'

/** The checkpoint record of what the replication user was given: persisted, never rename it. */
export const PASSWORD_RECORD = 'replication-password'

/** Where the password in use comes from, as far as the profile can tell without reading the environment again. */
type Origin = 'the profile (generated)' | typeof REPLICATION_PASSWORD_ENV

export type {PasswordRecord}

/**
 * Records that the replication user now has `password`: its fingerprint with the profile's salt
 * (kept from an earlier record), where it came from, and when. Written after the account has it.
 */
export async function recordAccountPassword(store: ProfileStore, password: string): Promise<void> {
  const earlier = await recordedPassword(store)
  const output: PasswordRecord = {fingerprint: passwordFingerprint(password, earlier?.fingerprint.salt), origin: await originOf(store, password), givenAt: new Date().toISOString()}
  await store.markStep(PASSWORD_RECORD, {state: 'done', output})
}

async function recordedPassword(store: ProfileStore): Promise<PasswordRecord | undefined> {
  const record = (await store.readCheckpoint()).steps[PASSWORD_RECORD]
  return record?.state === 'done' ? record.output : undefined
}

async function originOf(store: ProfileStore, password: string): Promise<Origin> {
  return (await store.readSecrets())?.replicationPassword === password ? 'the profile (generated)' : REPLICATION_PASSWORD_ENV
}

/**
 * Before the replica is linked with `password`: the replication user must have it, or the replica's
 * IO thread fails later with error 1045. It may not, when the password in use changed since the
 * replication-user step gave the account one: DATAIN_REPLICATION_PASSWORD set in one run and not in
 * the next (or set to another value). datain then gives the account this password (by its hash, as
 * the step does), says so, and records it; where the source refuses, it stops before linking
 * (E_REPLICATION_PASSWORD_DRIFT) with the ways out. The account itself (SHOW CREATE USER) decides,
 * so that a change made by hand is seen too; the record says what datain gave it and from where.
 */
export async function giveAccountPassword(ctx: Pick<StepContext, 'settings' | 'source' | 'store' | 'ui' | 'profile'>, password: string): Promise<void> {
  const user = checkedUserName(ctx.settings.replicationUser)
  const account = quoteAccount({user, host: REPLICATION_HOST})
  const source = await ctx.source()
  const state = await inspectAccount(source, user)
  if (!state) throw accountGone(ctx.profile, account)
  const recorded = await recordedPassword(ctx.store)
  if (state.passwordHash === nativePasswordHash(password) && !state.severalAuth) {
    if (!matchesFingerprint(password, recorded?.fingerprint)) await recordAccountPassword(ctx.store, password)
    return
  }

  const origin = await originOf(ctx.store, password)
  const had = recorded
    ? matchesFingerprint(password, recorded.fingerprint)
      ? 'was given this password by datain, and has another now (changed outside datain)'
      : `was given another password (from ${recorded.origin}, at ${recorded.givenAt})`
    : 'has another password'
  const statement = passwordStatement(user, password, 'give the replication user the password the link uses', {ifExists: true})
  const refusal = await alterPassword(ctx, source, user, password, statement)
  if (refusal !== undefined) throw driftError(ctx.profile, account, had, origin, refusal)
  await recordAccountPassword(ctx.store, password)
  await ctx.store.journal('replication-password-applied', {user, statement: statement.text, origin})
  ctx.ui.info(`The replication user ${account} ${had} than the one this run links with (from ${origin}): gave it that password first (${statement.text}), so that the link does not fail with error 1045.`)
}

/**
 * Runs the ALTER USER IF EXISTS, by the hash and else by the password (a source that validates
 * passwords refuses hashes), and returns undefined once the account has the password. IF EXISTS
 * turns a refusal (a password policy's 1819, strict validation's 1396) into a note, so the account
 * itself says whether it took; the notes are what is returned when neither did.
 */
async function alterPassword(ctx: Pick<StepContext, 'ui'>, source: Connection, user: string, password: string, statement: Statement): Promise<unknown> {
  let notes = ''
  for (const attempt of [statement, statement.withPlainPassword!]) {
    let warnings: Array<{Code: number; Message: string}>
    try {
      await source.query(attempt.sql, attempt.values)
      // Right after the ALTER: the next statement would clear them.
      warnings = (await source.query('SHOW WARNINGS')) as typeof warnings
    } catch (error) {
      return sqlError(attempt.what, attempt.text, error)
    }
    if ((await inspectAccount(source, user))?.passwordHash === nativePasswordHash(password)) {
      if (attempt !== statement) ctx.ui.info("The source validates passwords, so it took the replication user's password itself rather than its hash; the statement, with the password, is in its binary log.")
      return undefined
    }
    notes = warnings.map((w) => `error ${w.Code}: ${redact(w.Message)}`).join('; ')
  }
  return new Error(`the source did not change the account (${notes || 'no reason given'}).`)
}

function accountGone(profile: string, account: string): DatainError {
  return new DatainError(
    `The replication user ${account} no longer exists on the source, although datain created it: the replica could not log in. ` +
      `Record the setup afresh (datain init --profile ${profile} --force) and run datain start, which creates it again.`,
    {code: 'E_REPLICATION_USER_GONE', exit: ExitCode.failed, suggestions: [`datain init --profile ${profile} --force`]},
  )
}

function driftError(profile: string, account: string, had: string, origin: Origin, cause: unknown): DatainError {
  const detail = String((cause as Error)?.message ?? cause)
  const back =
    origin === REPLICATION_PASSWORD_ENV
      ? `unset ${REPLICATION_PASSWORD_ENV} (or set it to the password the account has)`
      : `set ${REPLICATION_PASSWORD_ENV} to the password the account has`
  return new DatainError(
    `The replication user ${account} ${had} than the one this run would link with (from ${origin}), and datain could not give it this one: ${detail} ` +
      `Nothing was linked: a link with a password the account does not have fails with error 1045. Either ${back} and run datain start --profile ${profile} again, ` +
      "or let datain's source user change the account (CREATE USER privilege).",
    {code: 'E_REPLICATION_PASSWORD_DRIFT', exit: ExitCode.failed, cause, suggestions: [`datain start --profile ${profile}`]},
  )
}
