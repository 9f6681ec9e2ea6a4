import {readFileSync} from 'node:fs'
import type {Connection} from 'mariadb'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {connectTo, type ServerAddress} from '../../src/lib/mariadb.js'
import {copyChunk, piecePool} from '../../src/snapshot/parallel/chunk-copy.js'
import {connectForCopy} from '../../src/snapshot/parallel/connections.js'
import {loadStatement, type TableInfo} from '../../src/snapshot/parallel/tables.js'
import {allowLoopback} from '../helpers/preflight.js'

/** A chunk whose read waits on a lock of the source fails within its stall bound, naming the table. */

let sandbox: Sandbox
const address = (side: 'source' | 'replica'): ServerAddress => ({
  host: sandbox[side].host,
  port: sandbox[side].port,
  user: sandbox[side].user,
  password: sandbox[side].password,
  tls: {ca: readFileSync(sandbox[side].sslCa, 'utf8'), verify: true},
})

const TABLE: TableInfo = {
  database: 'stall_db',
  name: 't',
  columns: [
    {name: 'id', type: 'int'},
    {name: 'v', type: 'varchar'},
  ],
  primaryKey: ['id'],
  estimatedRows: 100,
  estimatedBytes: 4000,
}

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  allowLoopback(sandbox)
  const ddl = 'CREATE TABLE stall_db.t (id INT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL)'
  await sandbox.source.server.execute(['CREATE DATABASE stall_db', ddl, "INSERT INTO stall_db.t SELECT seq, CONCAT('v', seq) FROM stall_db.seq_1_to_100"])
  await sandbox.replica.server.execute(['CREATE DATABASE stall_db', ddl])
})

afterAll(async () => {
  await sandbox?.stop()
})

it('a chunk whose read waits on a table lock of the source fails within its bound, naming the table, and frees its connections', async () => {
  const holder: Connection = await connectTo('source', address('source'))
  const source = await connectForCopy('source', address('source'))
  const replica = await connectForCopy('replica', address('replica'))
  source.on('error', () => {})
  replica.on('error', () => {})
  try {
    // A writer's table lock: the chunk's SELECT waits for its metadata lock (lock_wait_timeout: a day by default).
    await holder.query('LOCK TABLES stall_db.t WRITE')
    const started = Date.now()
    const copy = copyChunk({
      source,
      replica,
      select: 'SELECT CAST(id AS BINARY), CAST(v AS BINARY) FROM stall_db.t ORDER BY id',
      values: [],
      load: loadStatement(TABLE),
      batchBytes: 64 * 1024,
      pool: piecePool(1, 64 * 1024),
      label: 'the table stall_db.t',
      stallMs: 1000,
    })
    await expect(copy).rejects.toMatchObject({code: 'E_SNAPSHOT_STALLED', message: expect.stringMatching(/^Copying the table stall_db\.t made no progress for 1 s/)})
    expect(Date.now() - started).toBeLessThan(5000)
    expect(source.isValid()).toBe(false)
    expect(replica.isValid()).toBe(false)
  } finally {
    await holder.query('UNLOCK TABLES').catch(() => {})
    await holder.end()
    source.destroy()
    replica.destroy()
  }
})

it('any other statement of the copy waits the stall bound at most (a DELETE held by a table lock on the replica)', async () => {
  const holder: Connection = await connectTo('replica', address('replica'))
  process.env.DATAIN_STALL_TIMEOUT = '1'
  let replica: Connection | undefined
  try {
    replica = await connectForCopy('replica', address('replica'))
    replica.on('error', () => {})
    await holder.query('LOCK TABLES stall_db.t WRITE')
    const started = Date.now()
    await expect(replica.query('DELETE FROM stall_db.t WHERE id < 10')).rejects.toMatchObject({
      code: 'E_SNAPSHOT_STALLED',
      message: expect.stringMatching(/^A statement of the copy got no answer from the replica at 127\.0\.0\.1:\d+ within 1 s: a lock held on the replica/),
    })
    expect(Date.now() - started).toBeLessThan(5000)
  } finally {
    delete process.env.DATAIN_STALL_TIMEOUT
    await holder.query('UNLOCK TABLES').catch(() => {})
    await holder.end()
    replica?.destroy()
  }
})
