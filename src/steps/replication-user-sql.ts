import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../lib/errors.js'
import {nativePasswordHash} from '../state/passwords.js'
import {MASK, redact} from '../lib/redact.js'
import {quoteAccount, sqlErrno} from '../lib/sql.js'
import type {StepContext} from './step.js'

/** The replica connects from Azure's addresses, which change: the account is for any host. */
export const REPLICATION_HOST = '%'

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

export const bound = (user: string) => [user, REPLICATION_HOST]

export function creation(user: string, requireSsl: boolean, password?: string): Statement[] {
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

export function grantStatement(user: string): Statement {
  return {
    sql: 'GRANT REPLICATION SLAVE ON *.* TO ?@?',
    values: bound(user),
    text: `GRANT REPLICATION SLAVE ON *.* TO ${quoteAccount({user, host: REPLICATION_HOST})}`,
    what: 'grant REPLICATION SLAVE to the replication user',
  }
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
