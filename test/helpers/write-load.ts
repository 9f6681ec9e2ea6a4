import {randomBytes} from 'node:crypto'
import type {Connection} from 'mariadb'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import {connectionLost} from '../../src/lib/mariadb.js'

export interface WriteLoad {
  /**
   * Stops the load and resolves with how many statements it ran and how many times it connected
   * again after losing its connection (a restart of the source); rejects with the error that ended
   * the load early, if one did.
   */
  stop(): Promise<{statements: number; reconnects: number}>
}

/** A connection that is gone (see connectionLost), or the server's word that it shuts down (1053) or killed the connection (1927). */
function lost(error: unknown): boolean {
  const errno = (error as {errno?: unknown} | undefined)?.errno
  return connectionLost(error) || errno === 1053 || errno === 1927
}

/**
 * A steady mix of inserts, updates and deletes on the source, as an application would keep writing
 * during the setup: rows in `<database>.load_test` and updates to existing `orders` rows. Like an
 * application, it outlives a restart of the source: a lost connection is opened again (every 100 ms
 * until the server answers) and the load goes on; the statement that was cut may or may not have
 * committed, which the source's binlog says either way. Each load tags its rows' notes with a
 * tag of its own (`row <tag>:<i> ✓`): loads that follow one another on one table (several tests on
 * one sandbox) never write the same note, so a note seen twice means a transaction applied twice.
 */
export async function startWriteLoad(sandbox: AnySandbox, database = 'shop', pauseMs = 5): Promise<WriteLoad> {
  const server = sandbox.source.server
  await server.execute([
    `CREATE TABLE IF NOT EXISTS \`${database}\`.load_test (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40) NOT NULL, at DATETIME(6) NOT NULL DEFAULT NOW(6)) ENGINE=InnoDB`,
  ])
  const connect = async () => {
    const c = await server.connectAsRoot({database})
    // Without a listener the connector throws an idle connection's lost socket as an uncaught exception.
    c.on('error', () => {})
    return c
  }
  const tag = randomBytes(4).toString('hex')
  let conn: Connection | undefined = await connect()
  let running = true
  let statements = 0
  let reconnects = 0
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))
  const write = async (c: Connection, i: number) => {
    switch (i % 4) {
      case 0:
      case 1:
        await c.query('INSERT INTO load_test (v, note) VALUES (?, ?)', [i, `row ${tag}:${i} ✓`])
        break
      case 2:
        await c.query('UPDATE load_test SET v = v + 1, note = ? ORDER BY RAND() LIMIT 1', [`updated ${i}`])
        await c.query("UPDATE orders SET `delivery note` = ? WHERE id = ?", [`load ${i}`, (i % 40) + 1])
        break
      case 3:
        await c.query('DELETE FROM load_test ORDER BY RAND() LIMIT 1')
        break
    }
  }
  const loop = (async () => {
    let i = 0
    while (running) {
      if (!conn) {
        try {
          conn = await connect()
          reconnects++
        } catch {
          // The server is not back yet.
          await pause(100)
          continue
        }
      }
      i++
      try {
        await write(conn, i)
        statements++
      } catch (error) {
        if (!lost(error)) throw error
        await conn.end().catch(() => {})
        conn = undefined
        continue
      }
      if (pauseMs > 0) await pause(pauseMs)
    }
  })()
  // Held until stop(): an error that ends the load early must not go unhandled meanwhile.
  let failure: unknown
  const ended = loop.catch((error: unknown) => {
    failure = error
  })
  return {
    async stop() {
      running = false
      await ended
      await conn?.end().catch(() => {})
      if (failure !== undefined) throw failure
      return {statements, reconnects}
    },
  }
}

export {tableFingerprints} from '../../sandbox/table-fingerprints.js'
