import mariadb, {type Connection} from 'mariadb'
import {authOptions} from '../../lib/auth-plugins.js'
import {DatainError, ExitCode} from '../../lib/errors.js'
import {boundQueries, connectionError, KEEPALIVE_DELAY_MS, type ServerAddress, type ServerRole} from '../../lib/mariadb.js'
import {useSessionSqlMode} from '../../lib/session-sql-mode.js'
import {registerSecret} from '../../lib/redact.js'
import {STALL_TIMEOUT_ENV, stallTimeoutMs} from '../../lib/stall.js'

const CONNECT_TIMEOUT_MS = 10_000

/**
 * How the connector (mariadb 3.5.4, lib/cmd/parser.js readLocalInfile) answers a server's request
 * for a local file (a 0xFB packet), read from its source:
 * - `permitLocalInfile` is a connection option only: it sets CLIENT_LOCAL_FILES in the handshake,
 *   and the check reads the connection's options, so no query can turn it on. Off, any request is
 *   answered with an empty packet and the statement fails (ER_LOCAL_INFILE_DISABLED).
 * - On, the file name the server asks for must match the statement's own text
 *   (`LOAD DATA [LOW_PRIORITY|CONCURRENT] LOCAL INFILE '<name>'`, misc/parse.js validateFileName):
 *   a request to any other statement, "unprompted", fails with ER_LOCAL_INFILE_WRONG_FILENAME.
 *   That check cannot help when the statement text itself came from a server: a source whose
 *   SHOW CREATE TABLE answers `LOAD DATA LOCAL INFILE '/proc/self/environ' …` passes it.
 * - The bytes then come from `infileStreamFactory(name)` of the query's options, which inherit
 *   from the connection's (Object.create), or, with no factory at either level, from
 *   `fs.createReadStream(name)`: any file datain may read. A factory that throws makes the
 *   connector send an empty packet (nothing read) and fail the statement (ER_LOCAL_INFILE_NOT_READABLE).
 * So every connection that permits local infile gets refuseEveryFile as its own factory: only a
 * statement that brings its factory (chunk-copy's loads, with the rows datain encoded) sends data.
 */
export function refuseEveryFile(name: string): never {
  throw new Error(`datain refused to send the local file '${name}': only rows datain read itself are loaded`)
}

/**
 * A connection for moving rows, unlike `connectTo`'s metadata connections: big numbers stay as
 * the server wrote them (every column is read as bytes anyway), and on the replica LOAD DATA
 * LOCAL is allowed (the only way to bulk-load into Azure: no FILE privilege, no server files), for
 * statements that bring their own `infileStreamFactory` only (see refuseEveryFile).
 */
export async function connectForCopy(role: ServerRole, address: ServerAddress): Promise<Connection> {
  registerSecret(address.password)
  const stallMs = stallTimeoutMs()
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
      multipleStatements: false,
      permitLocalInfile: role === 'replica',
      infileStreamFactory: refuseEveryFile,
      // Rows arrive one statement at a time; pipelining would only queue statements behind a LOAD.
      pipelining: false,
      // No socketTimeout: a source connection waits, idle, while the replica takes a batch. The
      // copy's stall watchdog (chunk-copy) bounds the wait instead; keepalive notices a vanished peer.
      keepAliveDelay: KEEPALIVE_DELAY_MS,
    })
  } catch (error) {
    throw connectionError(role, address, error)
  }
  // The copy's other statements (its DDL, a chunk's checksum or DELETE on a resume) have the
  // stall bound as a deadline; the loads have chunk-copy's watchdog, which sees their progress.
  boundQueries(
    connection,
    (sql) => (/^\s*LOAD\s+DATA\b/i.test(sql) ? undefined : stallMs),
    (ms) =>
      new DatainError(
        `A statement of the copy got no answer from the ${role} at ${address.host}:${address.port} within ${ms / 1000} s: a lock held on the ${role}, ` +
          `or a server that no longer answers. Look at the ${role}'s process list, then run 'datain start' again (${STALL_TIMEOUT_ENV} sets the bound in seconds).`,
        {code: 'E_SNAPSHOT_STALLED', exit: ExitCode.failed},
      ),
  )
  await useSessionSqlMode(connection)
  return connection
}
