import {type Connection, SqlError} from 'mariadb'
import {DatainError} from '../lib/errors.js'
import {redact} from '../lib/redact.js'
import {type ReplicaStatus, readGtidSlavePos, readReplicaStatus, readSourcePosition, type SourcePosition} from '../replication/slave-status.js'
import type {ServerError} from './status-report.js'

/** What one look at a server gave: its value, or why it could not be read. */
export type Reading<T> = {ok: true; value: T} | {ok: false; error: ServerError; unreachable: boolean}

export interface ReplicaSide {
  /** Undefined when the replica has no link: SHOW SLAVE STATUS is empty, or shows a removed link. */
  status: ReplicaStatus | undefined
  /** `@@gtid_slave_pos`. */
  gtidSlavePos: string
}

/** The source now: its end of binlog, and for how long it has run. */
export interface SourceSide extends SourcePosition {
  /** `Uptime`: seconds since the source's mariadbd started (a restart sets it back to 0). */
  uptime?: number
}

/** One look at both servers. */
export interface LiveSample {
  /** Milliseconds (Date.now()) when the replica had been read. */
  at: number
  source: Reading<SourceSide>
  replica: Reading<ReplicaSide>
}

/** How to reach both servers: a session's lazily (re)connecting connections. */
export interface LiveServers {
  source(): Promise<Connection>
  replica(): Promise<Connection>
}

/**
 * Reads the source's end of binlog, then the replica's status and executed GTIDs. The source comes
 * first: the replica, read after it, can only be as far along or further, so a caught-up replica of
 * an idle source shows no lag. Neither server's failure is thrown: the report says what could not
 * be read, and status still shows the other side.
 */
export async function takeSample(servers: LiveServers): Promise<LiveSample> {
  const source = await read('source', async () => {
    const connection = await servers.source()
    const position = await readSourcePosition(connection)
    const [uptime] = (await connection.query("SHOW GLOBAL STATUS LIKE 'Uptime'")) as Array<{Value: string}>
    return uptime ? {...position, uptime: Number(uptime.Value)} : position
  })
  const replica = await read('replica', async () => {
    const connection = await servers.replica()
    const status = await readReplicaStatus(connection)
    return {status, gtidSlavePos: await readGtidSlavePos(connection)}
  })
  return {at: Date.now(), source, replica}
}

/**
 * A failed connection is a DatainError (exit 4, what to check); a connection lost mid-query or a
 * statement refused (missing privilege) is a SqlError. Either means this side cannot be seen now.
 * Anything else is a bug and is thrown.
 */
async function read<T>(role: 'source' | 'replica', look: () => Promise<T>): Promise<Reading<T>> {
  try {
    return {ok: true, value: await look()}
  } catch (error) {
    if (error instanceof DatainError) {
      return {ok: false, error: {code: error.code ?? 'E_UNKNOWN', message: redact(error.message)}, unreachable: error.exitCode === 4}
    }
    if (error instanceof SqlError) {
      const detail = (error.sqlMessage ?? error.message).replace(/^\(conn:[^)]*\)\s*/, '')
      const what = error.fatal ? `The connection to the ${role} was lost` : `The ${role} refused datain's query`
      return {ok: false, error: {code: `E_${role.toUpperCase()}_${error.fatal ? 'LOST' : 'QUERY'}`, message: redact(`${what} (error ${error.errno}: ${detail}).`)}, unreachable: true}
    }
    throw error
  }
}
