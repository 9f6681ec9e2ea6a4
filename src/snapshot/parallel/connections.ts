import mariadb, {type Connection} from 'mariadb'
import {authOptions} from '../../lib/auth-plugins.js'
import {connectionError, type ServerAddress, type ServerRole} from '../../lib/mariadb.js'
import {registerSecret} from '../../lib/redact.js'
// Before any copy connection exists: every LOAD DATA LOCAL of theirs goes through it.
import './connector-fix.js'

const CONNECT_TIMEOUT_MS = 10_000

/**
 * A connection for moving rows, unlike `connectTo`'s metadata connections: big numbers stay as
 * the server wrote them (every column is read as bytes anyway), and on the replica LOAD DATA
 * LOCAL is allowed (the only way to bulk-load into Azure: no FILE privilege, no server files).
 */
export async function connectForCopy(role: ServerRole, address: ServerAddress): Promise<Connection> {
  registerSecret(address.password)
  ignoreKillsOfVanishedThreads()
  try {
    return await mariadb.createConnection({
      host: address.host,
      port: address.port,
      user: address.user,
      password: address.password,
      ssl: address.tls ? {ca: address.tls.ca, rejectUnauthorized: address.tls.verify} : undefined,
      ...authOptions(address.tls),
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

let killsIgnored = false

/**
 * The copy ends its connections with `destroy()` when a worker fails. For a connection with a
 * statement in flight the connector (3.5) then runs `KILL <thread>` from a second connection and
 * leaves that KILL's failure unhandled: when the server has already dropped the thread (it
 * restarted, or the session was killed), "Unknown thread id" (1094) would end datain with a stack
 * instead of the copy's own error. That rejection is harmless (the thread is gone, as wanted) and
 * is ignored; every other unhandled rejection stays fatal, as it is by default.
 */
function ignoreKillsOfVanishedThreads(): void {
  if (killsIgnored) return
  killsIgnored = true
  process.on('unhandledRejection', (reason) => {
    const e = reason as {errno?: unknown; sql?: unknown} | undefined
    if (e?.errno === 1094 && typeof e.sql === 'string' && /^KILL \d+\b/.test(e.sql)) return
    throw reason
  })
}
