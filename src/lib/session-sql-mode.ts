import type {Connection} from 'mariadb'

/**
 * The sql_mode of every session datain opens: MariaDB 10.11's default, whatever the server's global
 * one. datain's own SQL is written for it; a global ORACLE (BODY a reserved word, "…" a name),
 * ANSI_QUOTES, NO_BACKSLASH_ESCAPES or PIPES_AS_CONCAT would otherwise change how it reads.
 */
export const SESSION_SQL_MODE = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION'

/**
 * Sets SESSION_SQL_MODE as the connection's first query, under its answer bound (boundQueries): as
 * the connector's `sessionVariables`, it would be part of the connect, where a server that lets
 * datain log in and then says nothing holds it for the connect timeout and reads as unreachable.
 */
export async function useSessionSqlMode(connection: Connection): Promise<void> {
  try {
    await connection.query(`SET SESSION sql_mode = '${SESSION_SQL_MODE}'`)
  } catch (error) {
    // After the answer bound the socket is closed already; destroy() would send a KILL through a second connection.
    if (connection.isValid()) connection.destroy()
    throw error
  }
}
