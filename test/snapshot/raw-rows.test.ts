import {readFileSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import type {ServerAddress} from '../../src/lib/mariadb.js'
import {installCopyWorkarounds, rawRowsAvailable} from '../../src/lib/runtime-workarounds.js'
import {copyChunk, piecePool} from '../../src/snapshot/parallel/chunk-copy.js'
import {connectForCopy} from '../../src/snapshot/parallel/connections.js'
import {SourceReadError} from '../../src/snapshot/parallel/piece-queue.js'
import {MalformedRowError, RowEncoder} from '../../src/snapshot/parallel/row-encoder.js'
import {loadStatement} from '../../src/snapshot/parallel/tables.js'
import {allowLoopback} from '../helpers/preflight.js'

/**
 * The copy reads rows as the source's packets (the connector's rows untouched, see rawRows in
 * runtime-workarounds.ts) where the pinned connector allows it, and as arrays of Buffers
 * otherwise. Both must put the same bytes into the replica; the packet path must keep the
 * source paused while the replica is behind, and a row it cannot read must fail the chunk, not
 * the process.
 */

let sandbox: Sandbox
let source: ServerAddress
let replica: ServerAddress

/** Every shape a value can take on the wire: NULL, empty, the bytes LOAD DATA escapes, each length-encoding width. */
const SHAPES = `SELECT seq,
  CASE seq % 7 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN CONCAT('t', CHAR(9), 'n', CHAR(10), 'b', CHAR(92), 'z', CHAR(0), 'N')
    WHEN 3 THEN REPEAT('x', 250 + seq % 3) WHEN 4 THEN REPEAT(UNHEX('5C0A'), 32767 + seq % 3) ELSE CONCAT('row ', seq) END,
  IF(seq % 11 = 0, NULL, seq * 7),
  IF(seq % 997 = 0, REPEAT(UNHEX('00FB09FE'), 262144 + seq), NULL)
  FROM raw_db.seq_1_to_3000`

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  allowLoopback(sandbox)
  const address = (side: typeof sandbox.source) => ({host: side.host, port: side.port, user: side.user, password: side.password, tls: {ca: readFileSync(side.sslCa, 'utf8'), verify: true}})
  source = address(sandbox.source)
  replica = address(sandbox.replica)
  const create = 'CREATE TABLE raw_db.t (id INT NOT NULL PRIMARY KEY, v LONGBLOB NULL, n BIGINT NULL, w LONGBLOB NULL)'
  await sandbox.source.server.execute(['CREATE DATABASE raw_db', create, `INSERT INTO raw_db.t ${SHAPES}`])
  await sandbox.replica.server.execute(['CREATE DATABASE raw_db', create])
})

afterAll(async () => {
  await sandbox?.stop()
})

const info = {database: 'raw_db', name: 't', columns: ['id', 'v', 'n', 'w'].map((name) => ({name, type: name === 'id' || name === 'n' ? 'int' : 'longblob'})), primaryKey: ['id'], estimatedRows: 0, estimatedBytes: 0}

/** copyChunk of raw_db.t (rows with ids in [from, to)) into the replica's table, emptied first unless `empty` is false. */
async function copy(batchBytes = 64 * 1024, range: [number, number] = [0, 1e9], empty = true) {
  if (empty) await sandbox.replica.server.execute(['TRUNCATE TABLE raw_db.t'])
  const [from, to] = await Promise.all([connectForCopy('source', source), connectForCopy('replica', replica)])
  try {
    return await copyChunk({
      source: from,
      replica: to,
      select: 'SELECT CAST(id AS BINARY), CAST(v AS BINARY), CAST(n AS BINARY), CAST(w AS BINARY) FROM raw_db.t WHERE id >= ? AND id < ? ORDER BY id',
      values: range,
      load: loadStatement(info),
      batchBytes,
      pool: piecePool(1, batchBytes),
    })
  } finally {
    from.destroy()
    to.destroy()
  }
}

async function checksums(): Promise<[string, string]> {
  const sum = async (server: typeof sandbox.source.server) => String(((await server.query('CHECKSUM TABLE raw_db.t')) as Array<{Checksum: unknown}>)[0]!.Checksum)
  return [await sum(sandbox.source.server), await sum(sandbox.replica.server)]
}

describe('rows read as the source packets', () => {
  it('put into the replica the very bytes that rows read as arrays do, every shape of value', async () => {
    // This file's process has not installed the copy's workarounds yet: the arrays first.
    expect(rawRowsAvailable()).toBe(false)
    const packets = vi.spyOn(RowEncoder.prototype, 'pushPacket')
    const arrays = await copy()
    const [expected, byArrays] = await checksums()
    expect(byArrays).toBe(expected)
    expect(packets).not.toHaveBeenCalled()

    await installCopyWorkarounds()
    expect(rawRowsAvailable()).toBe(true)
    const values = vi.spyOn(RowEncoder.prototype, 'push')
    const raw = await copy()
    expect(values).not.toHaveBeenCalled()
    expect(packets).toHaveBeenCalledTimes(3000)
    expect(raw).toEqual(arrays)
    expect((await checksums())[1]).toBe(expected)
    vi.restoreAllMocks()
  }, 120_000)

  it('keep the source paused while the replica is behind: rows read stay within about two batches', async () => {
    await installCopyWorkarounds()
    const packets = vi.spyOn(RowEncoder.prototype, 'pushPacket')
    const blocker = await sandbox.replica.server.connectAsRoot()
    let copying: ReturnType<typeof copy> | undefined
    try {
      // The replica's table is locked: the first statement waits, and the reading must stop soon after.
      await sandbox.replica.server.execute(['TRUNCATE TABLE raw_db.t'])
      await blocker.query('LOCK TABLES raw_db.t WRITE')
      copying = copy(16 * 1024, [0, 3000], false)
      copying.catch(() => {})
      await sleep(1500)
      const readWhileHeld = packets.mock.calls.length
      // Rows with no long value are about 20 bytes: two batches and a socket's read are well under 3,000 rows.
      expect(readWhileHeld).toBeGreaterThan(0)
      expect(readWhileHeld).toBeLessThan(2000)
      await blocker.query('UNLOCK TABLES')
      const result = await copying
      expect(result.rows).toBe(2999)
      expect(packets.mock.calls.length).toBe(2999)
    } finally {
      // Whatever failed, the copy is over before the next test empties the table.
      await blocker.end().catch(() => {})
      await copying?.catch(() => {})
      vi.restoreAllMocks()
    }
  }, 120_000)

  it('fail the chunk as the source failing when one cannot be read, and the process goes on', async () => {
    await installCopyWorkarounds()
    const pushPacket = RowEncoder.prototype.pushPacket
    let seen = 0
    vi.spyOn(RowEncoder.prototype, 'pushPacket').mockImplementation(function (this: RowEncoder, ...args) {
      if (++seen === 1200) throw new MalformedRowError('value 2 has no valid length')
      pushPacket.apply(this, args)
    })
    const failure = await copy(16 * 1024).then(
      () => undefined,
      (error: unknown) => error,
    )
    vi.restoreAllMocks()
    expect(failure).toBeInstanceOf(SourceReadError)
    expect((failure as Error).message).toMatch(/the source sent a malformed row \(value 2 has no valid length\)/)
    // Only whole statements reached the replica, each of rows before the bad one.
    const [count] = (await sandbox.replica.server.query('SELECT COUNT(*) AS n FROM raw_db.t')) as Array<{n: unknown}>
    expect(Number(count!.n)).toBeLessThan(1200)
    // And the next copy goes as usual.
    expect((await copy()).rows).toBe(3000)
  }, 120_000)
})
