import mariadb, {type Connection, type QueryOptions, type SqlError} from 'mariadb'
import {authOptions} from './auth-plugins.js'
import {secondsFromEnv} from './env-seconds.js'
import {DatainError, ExitCode} from './errors.js'
import {classifyIpv4, quoteUntrusted} from './ip-ranges.js'
import {registerSecret} from './redact.js'
import {useSessionSqlMode} from './session-sql-mode.js'

export type ServerRole = 'source' | 'replica'

export interface ServerAddress {
  host: string
  port: number
  user: string
  password: string
  /** TLS: `ca` is PEM text (none: the system's CAs); `verify` false accepts any certificate. */
  tls?: {ca?: string; verify: boolean}
  /** Azure only: the server's name, which a login through Azure's gateway carries as `user@<server>`. */
  azureServer?: string
}

const GATEWAY_REFUSED = 9000
/** Azure's gateway refusing a login it cannot route to a server ("The connection string may not be right"), or one without TLS. */
const GATEWAY_LOGIN_REFUSED = 9002
/** The connector's own errno when TLS was asked for and the server's greeting offers none. */
const SERVER_SSL_DISABLED = 45_023
const CONNECT_TIMEOUT_MS = 10_000
/** TCP keepalive from this long idle on: a peer that vanished (a half-open connection) is noticed by the kernel. */
export const KEEPALIVE_DELAY_MS = 30_000
export const QUERY_TIMEOUT_ENV = 'DATAIN_QUERY_TIMEOUT'
const DEFAULT_QUERY_TIMEOUT_S = 60
/** Statements that may rightly take long on a big server (DROP DATABASE of a large copy, Azure's procedures). */
const SLOW_STATEMENT = /^\s*(?:DROP|CREATE|ALTER|CALL)\b/i
const SLOW_STATEMENT_MS = 30 * 60_000

/**
 * Raised when Azure's gateway refuses datain's address: the firewall lacks a rule for `clientIp`.
 * `clientIp` is what the gateway's text named, unchecked: that text comes before TLS, so anyone on
 * the path can write it. Only a public unicast address is offered as a rule here; callers that may
 * open the firewall check it again with the replica's own address (see `trustedClientIp`).
 */
export class GatewayRefusedError extends DatainError {
  constructor(
    readonly clientIp: string,
    address: ServerAddress,
    cause: unknown,
  ) {
    const kind = classifyIpv4(clientIp)?.kind
    const publicIp = kind === 'public'
    // Gateway text, from before TLS: anything but an address is shown quoted and cut, control characters escaped.
    const named = kind ? clientIp : quoteUntrusted(clientIp)
    super(
      publicIp
        ? `The replica's firewall does not let this machine in: Azure's gateway at ${address.host}:${address.port} ` +
            `refused the connection from ${clientIp} (error 9000). ` +
            `'datain start' adds a firewall rule for ${clientIp}; to add it by hand: ` +
            `az mariadb server firewall-rule create --resource-group RG --server-name SERVER --name datain-client ` +
            `--start-ip-address ${clientIp} --end-ip-address ${clientIp}`
        : `The replica's firewall does not let this machine in: Azure's gateway at ${address.host}:${address.port} refused the connection ` +
            `(error 9000) and named the address ${named}, which is not a public unicast IPv4 address. That text arrives before TLS, ` +
            `so datain will not open the firewall to it unless the replica's own address is on a loopback or private network too. ` +
            `Give this machine's public IPv4 address as the replica sees it with 'datain init --force --client-ip A.B.C.D'.`,
      {code: 'E_REPLICA_FIREWALL', exit: ExitCode.unreachable, cause},
    )
  }
}


/** Opens a connection, turning every way it can fail into one paragraph that says what to check. */
export async function connectTo(role: ServerRole, address: ServerAddress): Promise<Connection> {
  registerSecret(address.password)
  const timeoutMs = queryTimeoutMs()
  let connection: Connection
  try {
    connection = await mariadb.createConnection({
      host: address.host,
      port: address.port,
      user: address.user,
      password: address.password,
      ssl: address.tls ? {ca: address.tls.ca, rejectUnauthorized: address.tls.verify} : undefined,
      ...authOptions(address.tls),
      connectTimeout: CONNECT_TIMEOUT_MS,
      // datain reads metadata (positions, counts), never user data: numbers, and an error if one is not exact.
      bigIntAsNumber: true,
      decimalAsNumber: true,
      checkNumberRange: true,
      multipleStatements: false,
      // Stated, not left to the default: a metadata connection never sends a local file, whatever the server asks.
      permitLocalInfile: false,
      keepAliveDelay: KEEPALIVE_DELAY_MS,
    })
  } catch (error) {
    throw connectionError(role, address, error)
  }
  boundQueries(
    connection,
    (sql) => (SLOW_STATEMENT.test(sql) ? Math.max(timeoutMs, SLOW_STATEMENT_MS) : timeoutMs),
    (ms) => unresponsiveError(role, address, ms),
  )
  // The connector throws (uncaught, a crash with a stack) when the socket of an idle connection
  // closes and nobody listens for 'error': a server restart, a KILL, wait_timeout. With a listener
  // the connection only turns invalid; its next query fails, and the session opens a new one.
  connection.on('error', () => {})
  await useSessionSqlMode(connection)
  return connection
}

/**
 * The deadline of a statement whose work grows with a table and whose progress the server does not
 * show (an index build, CHECKSUM TABLE): a second for each `perSecond` units of `work` (bytes,
 * rows), and never less than the other DDL's 30 minutes nor DATAIN_QUERY_TIMEOUT. A fixed bound
 * would fail every such statement on a table past some size, and its rerun the same way; the rates
 * callers give are far below what a slow server does, so the bound still ends a server that
 * stopped answering, not one that is slow. Given to a query as `{sql, deadlineMs}` (boundQueries).
 */
export function sizedDeadlineMs(work: number, perSecond: number, env: NodeJS.ProcessEnv = process.env): number {
  return Math.max(queryTimeoutMs(env), SLOW_STATEMENT_MS, Math.ceil(Math.max(0, work) / perSecond) * 1000)
}

/** `sql` as a query of its own deadline (boundQueries reads it; the connector ignores the field). */
export function withDeadline(sql: string, deadlineMs: number): QueryOptions {
  return {sql, deadlineMs} as QueryOptions
}

/** How long a metadata query waits for its answer: DATAIN_QUERY_TIMEOUT seconds, or 60. */
export function queryTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  return Math.round(secondsFromEnv(QUERY_TIMEOUT_ENV, DEFAULT_QUERY_TIMEOUT_S, env) * 1000)
}

/**
 * Gives every query of `connection` a client-side deadline. A server that accepted the connection
 * and then stops answering (hung, or a network that drops packets without a reset) would
 * otherwise keep the promise, and `datain status` run by cron, pending for ever: the connector's
 * socketTimeout cannot serve, as it also ends connections that are merely idle between steps, and
 * queryTimeout is the server's max_statement_time, which a silent server never applies. At the
 * deadline the connection's socket is closed and the query fails with `failure(ms)`.
 * `deadlineOf(sql)` picks the bound per statement (undefined: none); a statement given as
 * `{sql, deadlineMs}` states its own, for work whose length only its caller can judge (an index
 * build on a table of many GB).
 */
export function boundQueries(connection: Connection, deadlineOf: (sql: string) => number | undefined, failure: (ms: number) => DatainError): void {
  const bounded = connection as unknown as Record<'query' | 'execute', (...args: unknown[]) => Promise<unknown>>
  for (const method of ['query', 'execute'] as const) {
    const original = bounded[method].bind(connection)
    bounded[method] = (...args: unknown[]) => {
      const first = args[0]
      const stated = typeof first === 'object' && first !== null ? (first as {deadlineMs?: unknown}).deadlineMs : undefined
      const ms = typeof stated === 'number' ? stated : deadlineOf(typeof first === 'string' ? first : String((first as {sql?: unknown} | undefined)?.sql ?? ''))
      const answer = original(...args)
      if (ms === undefined) return answer
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          dropConnection(connection)
          reject(failure(ms))
        }, ms)
        // A deadline alone must not keep datain running: a query nobody awaits any more (its caller
        // failed on something else) held a finished 'datain verify' for the whole bound.
        timer.unref()
      })
      // The answer's own rejection, once its socket is closed, is not the one to report.
      answer.catch(() => {})
      return Promise.race([answer, deadline]).finally(() => clearTimeout(timer))
    }
  }
}

/**
 * Ends a connection whose server does not answer by closing its socket (reached through the
 * connector's `__tests.getSocket()`, 3.5). `destroy()` would first send `KILL <thread>` through a
 * second connection to the same server, which waits on a silent server as long as the first did
 * and keeps datain from exiting.
 */
function dropConnection(connection: Connection): void {
  const socket = (connection as unknown as {__tests?: {getSocket?: () => {destroy(error?: Error): void} | undefined}}).__tests?.getSocket?.()
  // With an error: the connector listens for 'error' and 'end', not 'close', to fail its queries and turn invalid.
  if (socket) socket.destroy(new Error('no answer from the server'))
  else connection.destroy()
}

function unresponsiveError(role: ServerRole, address: ServerAddress, ms: number): DatainError {
  return new DatainError(
    `The ${role} at ${address.host}:${address.port} accepted datain's connection but gave no answer to a query within ${ms / 1000} s ` +
      `(a server that hangs, or a network that drops packets without closing the connection). Check the server and the network between; ` +
      `${QUERY_TIMEOUT_ENV} sets the bound in seconds.`,
    {code: `E_${role.toUpperCase()}_UNRESPONSIVE`, exit: ExitCode.unreachable},
  )
}

/** The DatainError for a failed connection, exit 4, naming the server and what to check. */
export function connectionError(role: ServerRole, address: ServerAddress, error: unknown): DatainError {
  const e = error as Partial<SqlError> & {code?: string; message?: string}
  const where = `the ${role} at ${address.host}:${address.port}`
  const flag = `--${role}`
  const detail = (e.sqlMessage ?? e.message ?? String(error)).replace(/^\(conn:[^)]*\)\s*/, '')
  const fail = (code: string, message: string) => new DatainError(message, {code, exit: ExitCode.unreachable, cause: error})

  if (e.errno === GATEWAY_REFUSED) {
    const ip = /IP address '([^']+)'/.exec(detail)?.[1] ?? 'this machine'
    return new GatewayRefusedError(ip, address, error)
  }
  if (e.errno === GATEWAY_LOGIN_REFUSED && !/\bSSL\b/i.test(detail)) return gatewayLoginError(address, error)
  if (e.errno === SERVER_SSL_DISABLED || e.code === 'ER_SERVER_SSL_DISABLED') {
    return role === 'source'
      ? fail(
          'E_SOURCE_NO_TLS',
          `The source at ${address.host}:${address.port} does not speak TLS, and datain connects to it over TLS unless told otherwise. ` +
            `Either turn TLS on at the source (ssl_cert and ssl_key in its my.cnf, then a restart) and give its CA with --source-ssl-ca, ` +
            `so that datain and the replica both verify it; or run 'datain init --force --source-ssl off' to accept a connection in plain text: ` +
            `passwords stay hashed, but every row and the replication stream cross the network readable, and the replication user cannot be REQUIRE SSL.`,
        )
      : fail(
          'E_REPLICA_NO_TLS',
          `The replica at ${address.host}:${address.port} does not speak TLS, and datain connects to the replica over TLS unless told otherwise. Check --replica-host and --replica-port. ` +
            `On a replica you administer, turn TLS on (ssl_cert and ssl_key in its my.cnf, then a restart) and give its CA with --replica-ssl-ca; ` +
            `or, with --target mariadb, run 'datain init --force --replica-ssl off' to accept a connection in plain text: ` +
            `every row copied, and the replication password in the link's CHANGE MASTER TO, then cross the network readable.`,
        )
  }
  if (e.code === 'ER_NOT_SUPPORTED_AUTH_PLUGIN') {
    const plugin = /plugin ([\w-]+)/.exec(detail)?.[1] ?? 'unknown'
    return fail(
      `E_${role.toUpperCase()}_AUTH_PLUGIN`,
      `The ${role} at ${address.host}:${address.port} asks '${address.user}' to log in with the plugin '${plugin}', which sends the password readable; ` +
        `datain sends it so only over TLS that verifies the server's certificate, and this connection ` +
        `${address.tls ? 'does not verify it' : 'is not TLS'}. ` +
        (role === 'replica' ? 'Give the CA with --replica-ssl-ca and leave out --no-replica-ssl-verify' : 'Use TLS to the source (--source-ssl on, with --source-ssl-ca)') +
        ', or log in with an account that uses mysql_native_password or ed25519.',
    )
  }
  if (e.errno === 1045 || e.code === 'ER_ACCESS_DENIED_ERROR') {
    return fail(
      `E_${role.toUpperCase()}_AUTH`,
      `The ${role} refused the login of '${address.user}' (error 1045: ${detail}). Check the password in ` +
        `DATAIN_${role.toUpperCase()}_PASSWORD, the user name (${flag}-user), and that the account may connect from this machine` +
        (role === 'replica' ? ` (on Azure Database for MariaDB the user is written user@servername).` : '.'),
    )
  }
  const code = e.code ?? ''
  const text = `${code} ${detail}`
  if (/ENOTFOUND|EAI_AGAIN/.test(text)) {
    return fail(`E_${role.toUpperCase()}_UNREACHABLE`, `The host name of ${where} does not resolve (${detail}). Check ${flag}-host.`)
  }
  if (/ECONNREFUSED/.test(text)) {
    return fail(
      `E_${role.toUpperCase()}_UNREACHABLE`,
      `Nothing accepts connections at ${where} (connection refused). Check ${flag}-host and ${flag}-port, that the server runs, and that no firewall blocks this machine.`,
    )
  }
  if (/TIMEOUT|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH/i.test(text)) {
    return fail(
      `E_${role.toUpperCase()}_UNREACHABLE`,
      `No answer from ${where} within ${CONNECT_TIMEOUT_MS / 1000} s (${detail}). Check ${flag}-host and ${flag}-port and that a firewall lets this machine reach it.`,
    )
  }
  if (/CERT|SSL|TLS|self[- ]signed|certificate|issuer/i.test(text)) {
    return fail(
      `E_${role.toUpperCase()}_TLS`,
      `The TLS connection to ${where} failed: ${detail}. Give the CA that signed the server's certificate with ${flag}-ssl-ca FILE, ` +
        `and connect with a host name the certificate carries.`,
    )
  }
  return fail(`E_${role.toUpperCase()}_CONNECT`, `Could not connect to ${where}: ${detail}.`)
}

/**
 * Azure's gateway routes a login by the server name after its last '@' and logs in to that server
 * as the part before it; a login without it, or naming another server, it refuses with 9002.
 */
function gatewayLoginError(address: ServerAddress, cause: unknown): DatainError {
  const at = address.user.lastIndexOf('@')
  const account = at > 0 ? address.user.slice(0, at) : address.user
  const server = address.azureServer ?? serverOfHost(address.host)
  const login = `${account}@${server ?? 'SERVERNAME'}`
  return new DatainError(
    `Azure's gateway at ${address.host}:${address.port} refused the login '${address.user}' (error 9002, "the connection string may not be right"): ` +
      `through the gateway the user is written user@servername, and ${at > 0 ? `'${address.user.slice(at + 1)}' is not the server's name` : 'this login names no server'}. ` +
      `Log in as '${login}' (the account '${account}' on the server${server ? '' : ', SERVERNAME being the first part of the replica\'s host name'}): ` +
      `'datain init --force --replica-user ${login}', or DATAIN_REPLICA_USER.`,
    {code: 'E_REPLICA_LOGIN_NAME', exit: ExitCode.unreachable, cause},
  )
}

/** `myserver` of `myserver.mariadb.database.azure.com` (or of a sovereign cloud's domain); none for an address. */
function serverOfHost(host: string): string | undefined {
  const match = /^([a-z0-9][a-z0-9-]*)\.mariadb\.database\./i.exec(host)
  return match?.[1]?.toLowerCase()
}

/** The connector's word for a connection that is gone: a fatal error, or a command on a closed connection. */
export function connectionLost(error: unknown): boolean {
  const e = error as {fatal?: unknown; code?: unknown} | undefined
  return e?.fatal === true || e?.code === 'ER_CMD_CONNECTION_CLOSED' || e?.code === 'ER_SOCKET_UNEXPECTED_CLOSE'
}
