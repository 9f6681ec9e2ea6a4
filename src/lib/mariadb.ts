import mariadb, {type Connection, type SqlError} from 'mariadb'
import {DatainError, ExitCode} from './errors.js'
import {registerSecret} from './redact.js'

export type ServerRole = 'source' | 'replica'

export interface ServerAddress {
  host: string
  port: number
  user: string
  password: string
  /** TLS: `ca` is PEM text (none: the system's CAs); `verify` false accepts any certificate. */
  tls?: {ca?: string; verify: boolean}
}

const GATEWAY_REFUSED = 9000
const CONNECT_TIMEOUT_MS = 10_000

/** Raised when Azure's gateway refuses datain's address: the firewall lacks a rule for `clientIp`. */
export class GatewayRefusedError extends DatainError {
  constructor(
    readonly clientIp: string,
    address: ServerAddress,
    cause: unknown,
  ) {
    super(
      `The replica's firewall does not let this machine in: Azure's gateway at ${address.host}:${address.port} ` +
        `refused the connection from ${clientIp} (error 9000). ` +
        `'datain start' adds a firewall rule for ${clientIp}; to add it by hand: ` +
        `az mariadb server firewall-rule create --resource-group RG --server-name SERVER --name datain-client ` +
        `--start-ip-address ${clientIp} --end-ip-address ${clientIp}`,
      {code: 'E_REPLICA_FIREWALL', exit: ExitCode.unreachable, cause},
    )
  }
}

/** Opens a connection, turning every way it can fail into one paragraph that says what to check. */
export async function connectTo(role: ServerRole, address: ServerAddress): Promise<Connection> {
  registerSecret(address.password)
  let connection: Connection
  try {
    connection = await mariadb.createConnection({
      host: address.host,
      port: address.port,
      user: address.user,
      password: address.password,
      ssl: address.tls ? {ca: address.tls.ca, rejectUnauthorized: address.tls.verify} : undefined,
      connectTimeout: CONNECT_TIMEOUT_MS,
      // datain reads metadata (positions, counts), never user data: numbers, and an error if one is not exact.
      bigIntAsNumber: true,
      decimalAsNumber: true,
      checkNumberRange: true,
      multipleStatements: false,
      // Stated, not left to the default: a metadata connection never sends a local file, whatever the server asks.
      permitLocalInfile: false,
    })
  } catch (error) {
    throw connectionError(role, address, error)
  }
  // The connector throws (uncaught, a crash with a stack) when the socket of an idle connection
  // closes and nobody listens for 'error': a server restart, a KILL, wait_timeout. With a listener
  // the connection only turns invalid; its next query fails, and the session opens a new one.
  connection.on('error', () => {})
  return connection
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

/** The connector's word for a connection that is gone: a fatal error, or a command on a closed connection. */
export function connectionLost(error: unknown): boolean {
  const e = error as {fatal?: unknown; code?: unknown} | undefined
  return e?.fatal === true || e?.code === 'ER_CMD_CONNECTION_CLOSED' || e?.code === 'ER_SOCKET_UNEXPECTED_CLOSE'
}
