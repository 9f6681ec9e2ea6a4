import type {Sandbox} from '../../sandbox/sandbox.js'

export interface WriteLoad {
  /** Stops the load and resolves with how many statements it ran. */
  stop(): Promise<{statements: number}>
}

/**
 * A steady mix of inserts, updates and deletes on the source, as an application would keep writing
 * during the setup: rows in `<database>.load_test` and updates to existing `orders` rows.
 */
export async function startWriteLoad(sandbox: Sandbox, database = 'shop', pauseMs = 5): Promise<WriteLoad> {
  await sandbox.source.server.execute([
    `CREATE TABLE IF NOT EXISTS \`${database}\`.load_test (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40) NOT NULL, at DATETIME(6) NOT NULL DEFAULT NOW(6)) ENGINE=InnoDB`,
  ])
  const conn = await sandbox.source.server.connectAsRoot({database})
  let running = true
  let statements = 0
  const loop = (async () => {
    let i = 0
    while (running) {
      i++
      switch (i % 4) {
        case 0:
        case 1:
          await conn.query('INSERT INTO load_test (v, note) VALUES (?, ?)', [i, `row ${i} ✓`])
          break
        case 2:
          await conn.query('UPDATE load_test SET v = v + 1, note = ? ORDER BY RAND() LIMIT 1', [`updated ${i}`])
          await conn.query("UPDATE orders SET `delivery note` = ? WHERE id = ?", [`load ${i}`, (i % 40) + 1])
          break
        case 3:
          await conn.query('DELETE FROM load_test ORDER BY RAND() LIMIT 1')
          break
      }
      statements++
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs))
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      await conn.end()
      return {statements}
    },
  }
}

export {tableFingerprints} from '../../sandbox/table-fingerprints.js'
