import mariadb, {type Connection} from 'mariadb'
import {connectionError, type ServerAddress, type ServerRole} from '../../lib/mariadb.js'
import {registerSecret} from '../../lib/redact.js'

const CONNECT_TIMEOUT_MS = 10_000

/**
 * A connection for moving rows, unlike `connectTo`'s metadata connections: big numbers stay as
 * the server wrote them (every column is read as bytes anyway), and on the replica LOAD DATA
 * LOCAL is allowed (the only way to bulk-load into Azure: no FILE privilege, no server files).
 */
export async function connectForCopy(role: ServerRole, address: ServerAddress): Promise<Connection> {
  registerSecret(address.password)
  try {
    return await mariadb.createConnection({
      host: address.host,
      port: address.port,
      user: address.user,
      password: address.password,
      ssl: address.tls ? {ca: address.tls.ca, rejectUnauthorized: address.tls.verify} : undefined,
      connectTimeout: CONNECT_TIMEOUT_MS,
      multipleStatements: false,
      permitLocalInfile: role === 'replica',
      // Rows arrive one statement at a time; pipelining would only queue statements behind a LOAD.
      pipelining: false,
    })
  } catch (error) {
    throw connectionError(role, address, error)
  }
}
