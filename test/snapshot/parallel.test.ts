import {randomBytes} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import type {Connection} from 'mariadb'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'
import type {MariaDbServer} from '../../sandbox/mariadb-server.js'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {tableFingerprints} from '../../sandbox/table-fingerprints.js'
import {benchmarkStatements} from '../../sandbox/sample-data.js'
import {connectTo, type ServerAddress} from '../../src/lib/mariadb.js'
import {installCopyWorkarounds} from '../../src/lib/runtime-workarounds.js'
import {type CopyRecord, type ParallelCopyOptions, parallelCopy} from '../../src/snapshot/parallel/parallel-copy.js'
import {copyChunk, piecePool} from '../../src/snapshot/parallel/chunk-copy.js'
import {connectForCopy} from '../../src/snapshot/parallel/connections.js'
import {evenBounds, loadStatement} from '../../src/snapshot/parallel/tables.js'
import {BufferPool, RowEncoder} from '../../src/snapshot/parallel/row-encoder.js'
import type {SnapshotOutput} from '../../src/steps/snapshot-run.js'
import {snapshotStep} from '../../src/steps/snapshot.js'
import {allowLoopback} from '../helpers/preflight.js'
import {memoryLog} from './memory-log.js'
import {testStepContext} from './step-context.js'

/**
 * The parallel copy's own guarantees, against the sandbox: several workers, tables cut into
 * primary-key ranges (integer, composite, and a non-integer key that is not cut), every column
 * type byte for byte, triggers that do not fire for the copied rows, and one snapshot whose
 * recorded GTID lets replication apply each write made during the copy exactly once.
 */

const SAMPLE_ROWS = 6000
const BENCH_ROWS = 40_000
/** Small enough that every table of a few hundred KB is cut into ranges. */
const CHUNK_BYTES = 64 * 1024

let sandbox: Sandbox
let source: ServerAddress
let replica: ServerAddress
const homes: string[] = []

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: SAMPLE_ROWS})
  allowLoopback(sandbox)
  source = {
    host: sandbox.source.host,
    port: sandbox.source.port,
    user: sandbox.source.user,
    password: sandbox.source.password,
    tls: {ca: readFileSync(sandbox.source.sslCa, 'utf8'), verify: true},
  }
  replica = {
    host: sandbox.replica.host,
    port: sandbox.replica.port,
    user: sandbox.replica.user,
    password: sandbox.replica.password,
    tls: {ca: readFileSync(sandbox.replica.sslCa, 'utf8'), verify: true},
  }
  await sandbox.source.server.execute([
    ...benchmarkStatements({tables: 2, rows: BENCH_ROWS}),
    // A key that is not an integer: copied as one piece.
    `CREATE TABLE shop.coupons (code VARCHAR(32) CHARACTER SET ascii NOT NULL PRIMARY KEY, percent TINYINT UNSIGNED NOT NULL, note TEXT)`,
    `INSERT INTO shop.coupons SELECT CONCAT('C-', LPAD(seq, 6, '0')), seq % 90, IF(seq % 3 = 0, NULL, CONCAT('note ', seq)) FROM shop.seq_1_to_3000`,
    `CREATE TABLE shop.kinds (
      id INT NOT NULL PRIMARY KEY,
      txt VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
      lat VARCHAR(50) CHARACTER SET latin1 NULL,
      bin VARBINARY(64) NULL,
      blb LONGBLOB NULL,
      js JSON NULL,
      geo GEOMETRY NULL,
      pt POINT NULL,
      dt DATETIME(6) NULL,
      ts TIMESTAMP(3) NULL DEFAULT NULL,
      tm TIME(6) NULL,
      yr YEAR NULL,
      dec1 DECIMAL(32,10) NULL,
      flt FLOAT NULL,
      dbl DOUBLE NULL,
      bits BIT(10) NULL,
      en ENUM('a', 'b', 'c d') NULL,
      st SET('x', 'y', 'z') NULL,
      big BIGINT UNSIGNED NULL,
      twice INT AS (id * 2) VIRTUAL,
      shout VARCHAR(210) AS (CONCAT(txt, '!')) PERSISTENT,
      hidden INT INVISIBLE NOT NULL DEFAULT 7
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    `INSERT INTO shop.kinds (id, txt, lat, bin, blb, js, geo, pt, dt, ts, tm, yr, dec1, flt, dbl, bits, en, st, big, hidden) VALUES
      (1, CONCAT('😀 tab\\there, newline\\nend, back\\\\slash, nul', CHAR(0), ' 𠮷'), 'Ünïcödé', 0x00090A5C4E0D, UNHEX(REPEAT('00090A0D5C4E22275AFF', 500)),
       '{"a": [1, "\\\\t"], "b": null, "ü": "𠮷"}', ST_GeomFromText('POLYGON((0 0, 10 0, 10 10, 0 0))', 4326), POINT(1.5, -2.25),
       '2024-02-29 23:59:59.999999', '2038-01-19 03:14:07.999', '-838:59:59.000000', 2155, '-1234567890123456789012.1234567890',
       0.1234567, 1e-300, b'1010101010', 'c d', 'x,z', 18446744073709551615, 9),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0),
      (3, '\\\\N', '', '', '', '[]', NULL, POINT(0, 0), '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01.000', '00:00:00', 1901, '0.0000000001',
       -3.4e38, -1.7976931348623157e308, b'0', 'a', '', 0, -1)`,
    `INSERT INTO shop.kinds (id, txt, bin, blb, dt, dec1, flt, bits, big) SELECT 100 + seq, CONCAT('row ', seq, CHAR(9), seq), UNHEX(SHA2(seq, 256)),
       UNHEX(REPEAT(SHA2(seq, 256), 1 + seq % 20)), TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL seq MICROSECOND, seq / 7, seq / 3, seq % 1024, seq * 1000003
       FROM shop.seq_1_to_3000`,
    'ANALYZE TABLE shop.customers, shop.products, shop.orders, shop.order_items, shop.daily_sales, shop.coupons, shop.kinds, bench.sbtest1, bench.sbtest2',
  ])
  // What the snapshot step would have set through ARM before a copy with functions and triggers.
  await sandbox.replica.server.execute(['SET GLOBAL log_bin_trust_function_creators = ON'])
})

afterAll(async () => {
  await sandbox?.stop()
  await Promise.all(homes.map((h) => rm(h, {recursive: true, force: true})))
})

async function copy(options: Partial<ParallelCopyOptions> = {}) {
  await sandbox.replica.server.execute(['DROP DATABASE IF EXISTS shop', 'DROP DATABASE IF EXISTS bench'])
  return parallelCopy({source, replica, databases: ['shop', 'bench'], threads: 3, signal: new AbortController().signal, chunkBytes: CHUNK_BYTES, ...options})
}

async function expectIdentical(...databases: string[]): Promise<void> {
  for (const database of databases) {
    const expected = await tableFingerprints(sandbox.source.server, [database], {extended: true})
    expect(Object.keys(expected).length).toBeGreaterThan(0)
    expect(await tableFingerprints(sandbox.replica.server, [database], {extended: true}), database).toEqual(expected)
  }
}

describe('the parallel copy', () => {
  it('copies with several workers, cutting tables by key ranges, every type byte for byte, without firing the triggers', async () => {
    const progress: string[] = []
    const result = await copy({onProgress: (p) => progress.push(`${p.rows} ${p.table ?? ''}`), progressIntervalMs: 50})
    expect(result.threads).toBe(3)
    expect(result.tables).toBe(9)
    // The integer keys (single and composite) were cut; the VARCHAR key of coupons was not.
    expect(result.chunks).toBeGreaterThan(30)
    const [{n: rows}] = (await sandbox.source.server.query<Array<{n: bigint}>>(
      `SELECT (SELECT COUNT(*) FROM shop.customers) + (SELECT COUNT(*) FROM shop.products) + (SELECT COUNT(*) FROM shop.orders) + (SELECT COUNT(*) FROM shop.order_items)
            + (SELECT COUNT(*) FROM shop.daily_sales) + (SELECT COUNT(*) FROM shop.coupons) + (SELECT COUNT(*) FROM shop.kinds)
            + (SELECT COUNT(*) FROM bench.sbtest1) + (SELECT COUNT(*) FROM bench.sbtest2) AS n`,
    )) as [{n: bigint}]
    expect(result.rows).toBe(Number(rows))
    expect(result.point.method).toBe('backup-stage')
    expect(result.point.writesHeldMs).toBeGreaterThanOrEqual(0)
    expect(progress.length).toBeGreaterThan(0)

    // CHECKSUM TABLE over every column, the generated and invisible ones included.
    await expectIdentical('shop', 'bench')
    // The trigger adds each line to its order's total: had it fired during the load, totals would have doubled.
    const totals = 'SELECT SUM(total) AS s, COUNT(*) AS n FROM shop.orders'
    expect(await sandbox.replica.server.query(totals)).toEqual(await sandbox.source.server.query(totals))
    const [kinds] = await sandbox.replica.server.query<Array<Record<string, unknown>>>(
      "SELECT txt = CONCAT('😀 tab\\there, newline\\nend, back\\\\slash, nul', CHAR(0), ' 𠮷') AS txt_ok, HEX(bits) AS bits, ST_AsText(geo) AS geo, ST_SRID(geo) AS srid, flt = 0.1234567e0 AS flt_exact, hidden, shout FROM shop.kinds WHERE id = 1",
    )
    const [sourceKinds] = await sandbox.source.server.query<Array<Record<string, unknown>>>(
      'SELECT flt = 0.1234567e0 AS flt_exact FROM shop.kinds WHERE id = 1',
    )
    expect(kinds).toMatchObject({txt_ok: 1, bits: '2AA', geo: 'POLYGON((0 0,10 0,10 10,0 0))', srid: 4326, flt_exact: sourceKinds!.flt_exact, hidden: 9})
    const [literal] = await sandbox.replica.server.query<Array<{txt: string | null}>>('SELECT txt FROM shop.kinds WHERE id = 3')
    expect(literal!.txt).toBe('\\N')

    // The objects came after the rows and work; the trigger fires for new rows.
    const conn = await replicaAdmin()
    try {
      await conn.query('CALL shop.place_order(1, 1, 3, @order_id)')
      const [placed] = await conn.query('SELECT o.total = 3 * p.price AS ok FROM shop.orders o JOIN shop.products p ON p.id = 1 WHERE o.id = @order_id')
      expect(placed.ok).toBe(1)
      const [view] = await conn.query('SELECT COUNT(*) AS n FROM shop.customer_order_summary')
      expect(Number(view.n)).toBeGreaterThan(0)
    } finally {
      await conn.end()
    }
  })

  it('records one GTID from which replication applies every write made during the copy exactly once, under a brief commit lock', async () => {
    const writer = await sandbox.source.server.connectAsRoot({database: 'shop'})
    let writing = true
    let inserts = 0
    const marker = 'during copy'
    const load = (async () => {
      for (let i = 1; writing; i++) {
        await writer.query("INSERT INTO orders (customer_id, status, total, placed_at, `delivery note`) VALUES (?, 'pending', 0, NOW(6), ?)", [1 + (i % 100), `${marker} ${i}`])
        inserts++
        // The trigger adds the line to the order's total on the source; the replica gets both rows.
        await writer.query('INSERT INTO order_items (order_id, `order`, product_id, quantity, unit_price) VALUES (LAST_INSERT_ID(), 1, ?, 2, 9.99)', [1 + (i % 50)])
        await writer.query("UPDATE orders SET status = 'paid', total = total + 1 WHERE id = ?", [1 + ((i * 7919) % SAMPLE_ROWS)])
        await writer.query('UPDATE kinds SET blb = ?, flt = flt + 1 WHERE id = ?', [randomBytes(64), 101 + (i % 3000)])
        await writer.query('UPDATE bench.sbtest1 SET k = k + 1 WHERE id = ?', [1 + ((i * 104729) % BENCH_ROWS)])
        await writer.query('DELETE FROM bench.sbtest2 WHERE id = ?', [BENCH_ROWS - i])
        await writer.query("INSERT INTO bench.sbtest2 (k, c, pad) VALUES (?, 'during copy', ?)", [i, String(i)])
      }
    })()
    try {
      await sleep(100)
      let duringSnapshot = 0
      const result = await copy({
        hooks: {
          onSnapshot: () => {
            duringSnapshot = inserts
          },
        },
      })
      const after = inserts
      console.log(
        `[parallel] under writes: ${result.point.method}, writes held ${result.point.writesHeldMs} ms; ` +
          `${result.rows} rows in ${result.seconds.toFixed(1)} s`,
      )
      await sleep(200)
      writing = false
      await load
      expect(after - duringSnapshot, 'writes made while the rows were copied').toBeGreaterThan(20)
      expect(result.point.method).toBe('backup-stage')
      expect(result.point.writesHeldMs).toBeGreaterThan(0)
      expect(result.point.writesHeldMs).toBeLessThan(2000)
      const [gtid] = await sandbox.source.server.query<Array<{g: string}>>('SELECT BINLOG_GTID_POS(?, ?) AS g', [result.point.binlogFile, result.point.binlogPosition])
      expect(result.point.gtidPosition).toBe(gtid!.g)

      await replicateFrom(result.point.gtidPosition)
      await expectIdentical('shop', 'bench')
      const [copied] = await sandbox.replica.server.query<Array<{n: bigint}>>('SELECT COUNT(*) AS n FROM shop.orders WHERE `delivery note` LIKE ?', [`${marker} %`])
      expect(Number(copied!.n)).toBe(inserts)
    } finally {
      writing = false
      await load.catch(() => {})
      await writer.end()
      await stopReplication()
    }
  })

  it('after an abort, resumes: the chunks it loaded are checked against a new snapshot, kept where they still match, loaded again where the source changed', async () => {
    const controller = new AbortController()
    const log = memoryLog((r) => {
      // Stop once a good part of the chunks is in, in the middle of the others.
      if (r.tables.reduce((n, t) => n + t.done.length, 0) >= 12) controller.abort()
    })
    const first = copy({signal: controller.signal, threads: 2, log})
    await expect(first).rejects.toMatchObject({code: 'E_INTERRUPTED'})
    const record: CopyRecord | undefined = log.record
    expect(log.compacted).toEqual(record)
    const done = record!.tables.reduce((n, t) => n + t.done.length, 0)
    const all = record!.tables.reduce((n, t) => n + t.bounds.length + 1, 0)
    expect(done).toBeGreaterThanOrEqual(12)
    expect(done).toBeLessThan(all)

    // The source moves on between the two runs: rows of finished chunks change, others come and go.
    await sandbox.source.server.execute([
      'UPDATE bench.sbtest1 SET k = k + 1 WHERE id % 5000 = 1',
      "UPDATE shop.kinds SET txt = 'changed between runs' WHERE id = 1",
      'DELETE FROM bench.sbtest2 WHERE id BETWEEN 100 AND 120',
      "INSERT INTO shop.coupons VALUES ('Z-NEW', 5, 'between runs')",
    ])
    // And writes go on while the resumed copy runs: replication from its GTID applies each exactly once.
    const writer = await sandbox.source.server.connectAsRoot({database: 'shop'})
    let writing = true
    let inserts = 0
    const load = (async () => {
      for (let i = 1; writing; i++) {
        await writer.query("INSERT INTO orders (customer_id, status, total, placed_at, `delivery note`) VALUES (?, 'pending', 0, NOW(6), ?)", [1 + (i % 100), `during resume ${i}`])
        inserts++
        await writer.query('INSERT INTO order_items (order_id, `order`, product_id, quantity, unit_price) VALUES (LAST_INSERT_ID(), 1, ?, 2, 9.99)', [1 + (i % 50)])
        await writer.query('UPDATE bench.sbtest2 SET k = k + 1 WHERE id = ?', [1 + ((i * 104729) % BENCH_ROWS)])
      }
    })()
    try {
      const second = await parallelCopy({source, replica, databases: ['shop', 'bench'], threads: 3, signal: new AbortController().signal, chunkBytes: CHUNK_BYTES, resume: record})
      await sleep(200)
      writing = false
      await load
      expect(second.keptChunks, 'chunks kept').toBeGreaterThan(0)
      expect(second.reloadedChunks, 'chunks loaded again').toBeGreaterThan(0)
      expect(second.keptChunks + second.reloadedChunks).toBeLessThanOrEqual(second.chunks)
      await replicateFrom(second.point.gtidPosition)
      await expectIdentical('shop', 'bench')
      const [copied] = await sandbox.replica.server.query<Array<{n: bigint}>>("SELECT COUNT(*) AS n FROM shop.orders WHERE `delivery note` LIKE 'during resume %'")
      expect(Number(copied!.n)).toBe(inserts)
      // The objects were created again after the rows, once each.
      const [triggers] = await sandbox.replica.server.query<Array<{n: bigint}>>("SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'")
      expect(Number(triggers!.n)).toBe(1)
    } finally {
      writing = false
      await load.catch(() => {})
      await writer.end()
      await stopReplication()
    }
  })

  it('as the snapshot step with --parallel N: that many threads, the hold time and method in its output', async () => {
    await sandbox.replica.server.execute(['DROP DATABASE IF EXISTS shop', 'DROP DATABASE IF EXISTS bench'])
    const home = await mkdtemp(path.join(tmpdir(), 'datain-parallel-test-'))
    homes.push(home)
    const t = await testStepContext(sandbox, {home, parallel: 4, settings: {databases: ['shop', 'bench']}})
    try {
      const output = (await snapshotStep.run(t.ctx)) as SnapshotOutput
      expect(output).toMatchObject({engine: 'parallel', threads: 4, snapshotMethod: 'backup-stage', createdDatabases: ['shop', 'bench']})
      expect(t.infos.join('\n')).toMatch(/Copied shop, bench: .* with 4 threads; source position binlog\.\d+:\d+, GTID \d+-\d+-\d+; commits on the source were held [\d.]+ ms \(BACKUP STAGE BLOCK_COMMIT\)/)
      await expectIdentical('shop', 'bench')
    } finally {
      await t.close()
    }
  })
})

describe('a chunk whose load the replica rolls back', () => {
  it('sends the batch again after a lock wait timeout, and every row lands once', async () => {
    const rows = 20_000
    const table = await chunkTable('retry_db', [ID, {name: 'v', type: 'varchar', sql: 'VARCHAR(40) NOT NULL'}], `SELECT seq, CONCAT('value ', seq) FROM retry_db.seq_1_to_${rows}`)
    const blocker = await sandbox.replica.server.connectAsRoot()
    try {
      // Another transaction holds the row the load will reach in its first batch: the load waits, times out
      // after a second (its statement rolled back), and goes through once the holder has let go.
      await blocker.query('BEGIN')
      await blocker.query("INSERT INTO retry_db.t VALUES (100, 'held')")
      await table.to.query('SET SESSION innodb_lock_wait_timeout = 1')
      const release = sleep(1500).then(() => blocker.query('ROLLBACK'))
      const result = await table.copy(64 * 1024)
      await release
      expect(result.retries).toBeGreaterThanOrEqual(1)
      expect(result.rows).toBe(rows)
      const [mine, theirs] = await table.checksums()
      expect(theirs).toBe(mine)
      const [count] = (await sandbox.replica.server.query('SELECT COUNT(*) AS n FROM retry_db.t')) as Array<{n: unknown}>
      expect(Number(count!.n)).toBe(rows)
    } finally {
      await blocker.end().catch(() => {})
      await table.drop()
    }
  })
})

describe('rows larger than a batch', () => {
  it('sends them in statements of their own size, byte for byte (escapes and all), between small rows, every row once', async () => {
    // Small rows around rows of 3 MB of bytes that all need escaping (NUL, tab, newline, backslash):
    // 6 MB once encoded, past the batch (500 kB), the pool's buffers (96 kB) and the connector's 1 MiB.
    const table = await chunkTable(
      'big_db',
      [ID, {name: 'b', type: 'longblob', sql: 'LONGBLOB NULL'}],
      "SELECT seq, IF(seq % 50 = 0, REPEAT(UNHEX('00090A5C41'), 600000 + seq), CONCAT('row ', seq)) FROM big_db.seq_1_to_200",
    )
    try {
      const result = await table.copy(500_000)
      expect(result.rows).toBe(200)
      // A statement holds one big row at most (each is past the batch's 500 kB on its own).
      expect(result.statements).toBeGreaterThanOrEqual(4)
      const [mine, theirs] = await table.checksums()
      expect(theirs).toBe(mine)
    } finally {
      await table.drop()
    }
  })
})

describe('the connector under many LOAD DATA LOCAL statements', () => {
  it('sends each batch from a buffer of its size, not a new 16 MiB one (the connector 3.5.4 bug is worked around)', async () => {
    // Without the fix every statement ends with Buffer.allocUnsafe(16 MiB): a copy "allocated" 16 times
    // its data, and V8 ran a full garbage collection every few statements (a third of datain's CPU).
    // As the copy does before its first connection (this test copies a chunk without parallelCopy).
    expect((await installCopyWorkarounds()).find((w) => w.name === 'mariadb-load-data-buffers')?.applied).toBe(true)
    const table = await chunkTable('alloc_db', [ID, {name: 'v', type: 'varchar', sql: 'VARCHAR(200) NOT NULL'}], "SELECT seq, REPEAT('v', 150) FROM alloc_db.seq_1_to_20000")
    const sizes: number[] = []
    const allocUnsafe = Buffer.allocUnsafe
    const spy = vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((size: number) => {
      sizes.push(size)
      return allocUnsafe(size)
    })
    try {
      const result = await table.copy(256 * 1024)
      expect(result.rows).toBe(20_000)
      expect(result.statements).toBeGreaterThanOrEqual(10)
      // The largest buffer is the connector's 1 MiB packet buffer; nothing near 16 MiB.
      expect(Math.max(...sizes)).toBeLessThanOrEqual(1024 * 1024)
    } finally {
      spy.mockRestore()
      await table.drop()
    }
  })
})

describe('pieces of the parallel copy', () => {
  it('encodes rows for LOAD DATA: NULL as \\N, the four special bytes escaped, everything else as it is', () => {
    const encoder = new RowEncoder(new BufferPool(8))
    encoder.push([Buffer.from('a\tb\nc\\d\0e'), null, Buffer.from('\\N'), Buffer.from(''), Buffer.from('x'.repeat(40))])
    encoder.push([Buffer.from([0xff, 0x0d, 0x22])])
    const {bytes, rows} = encoder.take()
    expect(rows).toBe(2)
    expect(bytes.toString('latin1')).toBe(`a\\tb\\nc\\\\d\\0e\t\\N\t\\\\N\t\t${'x'.repeat(40)}\n\xff\r"\n`)
    expect(encoder.length).toBe(0)
  })

  it('encodes into buffers used again once released, and never hands one buffer out twice', () => {
    const pool = new BufferPool(8192)
    const encoder = new RowEncoder(pool)
    encoder.push([Buffer.from('first')])
    const first = encoder.take()
    encoder.push([Buffer.from('second')])
    const second = encoder.take()
    expect(second.bytes.buffer).not.toBe(first.bytes.buffer)
    first.release()
    encoder.push([Buffer.from('third')])
    const third = encoder.take()
    // The encoder's next buffer came from the pool: the one `first` gave back.
    encoder.push([Buffer.from('fourth')])
    expect(encoder.take().bytes.buffer).toBe(first.bytes.buffer)
    expect(second.bytes.toString()).toBe('second\n')
    expect(third.bytes.toString()).toBe('third\n')
    second.release()
    expect(() => second.release()).toThrow(/released twice/)
    // A row larger than the pool's buffers gets one of its own, which the pool does not take.
    const big = new RowEncoder(pool)
    big.push([Buffer.alloc(10_000, 0x61)])
    const taken = big.take()
    expect(taken.bytes.length).toBe(10_001)
    taken.release()
    expect(pool.get().length).toBe(8192)
  })

  it('cuts a key range into even pieces that cover it whole', () => {
    expect(evenBounds(1n, 100n, 4)).toEqual([26n, 51n, 76n])
    expect(evenBounds(5n, 6n, 8)).toEqual([6n])
    expect(evenBounds(7n, 7n, 8)).toEqual([])
    expect(evenBounds(-(2n ** 63n), 2n ** 63n - 1n, 2)).toEqual([0n])
  })
})

interface ChunkColumn {
  name: string
  /** The type as listTables reports it (what loadStatement reads). */
  type: string
  /** Its definition in CREATE TABLE. */
  sql: string
}

const ID: ChunkColumn = {name: 'id', type: 'int', sql: 'INT NOT NULL PRIMARY KEY'}

/**
 * `db`.t with `columns` on both servers, the source's filled by `rows` (a SELECT, which may read
 * `db`.seq_…), the copy's two connections to it, and copyChunk of the whole table; `drop()` ends
 * the connections and drops `db` on both servers.
 */
async function chunkTable(db: string, columns: ChunkColumn[], rows: string) {
  const create = `CREATE TABLE ${db}.t (${columns.map((c) => `${c.name} ${c.sql}`).join(', ')})`
  await sandbox.source.server.execute([`DROP DATABASE IF EXISTS ${db}`, `CREATE DATABASE ${db}`, create, `INSERT INTO ${db}.t ${rows}`])
  await sandbox.replica.server.execute([`DROP DATABASE IF EXISTS ${db}`, `CREATE DATABASE ${db}`, create])
  const [from, to] = await Promise.all([connectForCopy('source', source), connectForCopy('replica', replica)])
  const info = {database: db, name: 't', columns: columns.map(({name, type}) => ({name, type})), primaryKey: ['id'], estimatedRows: 0, estimatedBytes: 0}
  const checksum = async (server: MariaDbServer) => {
    const [row] = (await server.query(`CHECKSUM TABLE ${db}.t`)) as Array<{Checksum: unknown}>
    return String(row!.Checksum)
  }
  return {
    to,
    copy: (batchBytes: number) =>
      copyChunk({
        source: from,
        replica: to,
        select: `SELECT ${columns.map((c) => `CAST(${c.name} AS BINARY)`).join(', ')} FROM ${db}.t ORDER BY id`,
        values: [],
        load: loadStatement(info),
        batchBytes,
        pool: piecePool(1, batchBytes),
      }),
    /** CHECKSUM TABLE on the source, then on the replica. */
    checksums: async () => [await checksum(sandbox.source.server), await checksum(sandbox.replica.server)],
    drop: async () => {
      await Promise.allSettled([from.end(), to.end()])
      await sandbox.source.server.execute([`DROP DATABASE IF EXISTS ${db}`])
      await sandbox.replica.server.execute([`DROP DATABASE IF EXISTS ${db}`])
    },
  }
}

async function replicaAdmin(): Promise<Connection> {
  return connectTo('replica', replica)
}

async function replicateFrom(gtid: string): Promise<void> {
  const password = `r'e"p$l\\${Date.now()}`
  await sandbox.source.server.execute(["DROP USER IF EXISTS 'par_repl'@'%'"])
  await sandbox.source.server.query("CREATE USER 'par_repl'@'%' IDENTIFIED BY ?", [password])
  await sandbox.source.server.query("GRANT REPLICATION SLAVE ON *.* TO 'par_repl'@'%' REQUIRE SSL")
  const conn = await replicaAdmin()
  try {
    await conn.execute('CALL mysql.az_replication_change_master_with_gtid(?, ?, ?, ?, ?, ?)', [
      '127.0.0.1',
      'par_repl',
      password,
      sandbox.source.port,
      gtid,
      readFileSync(sandbox.source.sslCa, 'utf8'),
    ])
    await conn.query('CALL mysql.az_replication_start')
    const [{target}] = (await sandbox.source.server.query<Array<{target: string}>>('SELECT @@gtid_binlog_pos AS target')) as [{target: string}]
    const deadline = Date.now() + 60_000
    for (;;) {
      const [status] = await conn.query('SHOW SLAVE STATUS')
      if (status?.Last_SQL_Errno || status?.Last_IO_Errno) {
        throw new Error(`replication broke: ${status.Last_SQL_Errno} ${status.Last_SQL_Error} ${status.Last_IO_Errno} ${status.Last_IO_Error}`)
      }
      const [{pos}] = await conn.query('SELECT @@gtid_slave_pos AS pos')
      if (pos === target) return
      if (Date.now() > deadline) throw new Error(`replica at ${pos}, source at ${target}`)
      await sleep(100)
    }
  } finally {
    await conn.end()
  }
}

async function stopReplication(): Promise<void> {
  const conn = await replicaAdmin()
  try {
    await conn.query('CALL mysql.az_replication_stop').catch(() => {})
    await conn.query('CALL mysql.az_replication_remove_master').catch(() => {})
  } finally {
    await conn.end()
  }
}
