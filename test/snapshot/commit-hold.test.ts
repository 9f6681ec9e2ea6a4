import {readFileSync} from 'node:fs'
import type {Connection} from 'mariadb'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {connectTo, type ServerAddress} from '../../src/lib/mariadb.js'
import {connectForCopy} from '../../src/snapshot/parallel/connections.js'
import {openConsistentSnapshot} from '../../src/snapshot/parallel/consistent-snapshot.js'

/**
 * The instant the parallel copy holds the source's commits has a client-side limit: a worker
 * that cannot open its snapshot (here its own open write transaction, whose implicit commit waits
 * for the very BACKUP STAGE BLOCK_COMMIT datain holds) does not hold every writer of the source.
 */

let sandbox: Sandbox
const source = (): ServerAddress => ({
  host: sandbox.source.host,
  port: sandbox.source.port,
  user: sandbox.source.user,
  password: sandbox.source.password,
  tls: {ca: readFileSync(sandbox.source.sslCa, 'utf8'), verify: true},
})

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  await sandbox.source.server.execute([
    'CREATE DATABASE hold_db',
    'CREATE TABLE hold_db.t (id INT NOT NULL PRIMARY KEY)',
    `GRANT INSERT, SELECT ON hold_db.* TO '${sandbox.source.user}'@'%'`,
  ])
})

afterAll(async () => {
  await sandbox?.stop()
})

it('releases the commits and fails with E_SNAPSHOT_HOLD when a worker cannot open its snapshot within the limit', async () => {
  const coordinator = await connectForCopy('source', source())
  const workers = [await connectForCopy('source', source()), await connectForCopy('source', source())]
  for (const c of [coordinator, ...workers]) c.on('error', () => {})
  const writer: Connection = await connectTo('source', source())
  try {
    // START TRANSACTION commits this first, and that commit waits for BLOCK_COMMIT (for a day, by lock_wait_timeout).
    await workers[1]!.query('BEGIN')
    await workers[1]!.query('INSERT INTO hold_db.t VALUES (1)')
    const started = Date.now()
    await expect(openConsistentSnapshot(coordinator, workers, {holdLimitMs: 1000})).rejects.toMatchObject({
      code: 'E_SNAPSHOT_HOLD',
      message: expect.stringMatching(/could not open their snapshots within 1 s while datain held the source's commits, so datain let the commits go again/),
    })
    expect(Date.now() - started).toBeLessThan(5000)
    expect(workers.every((w) => !w.isValid())).toBe(true)
    // The source's writers go on: a commit does not wait for datain's hold.
    await writer.query('SET SESSION lock_wait_timeout = 5')
    await writer.query('INSERT INTO hold_db.t VALUES (2)')
    expect(await writer.query('SELECT id FROM hold_db.t WHERE id = 2')).toEqual([{id: 2}])
  } finally {
    await writer.end()
    for (const c of [coordinator, ...workers]) c.destroy()
  }
})
