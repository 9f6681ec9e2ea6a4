import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {VerifyResult} from '../../src/verify/result.js'
import {startWriteLoad} from '../helpers/write-load.js'
import {dispose, type Env, expectNoSecrets, json, newEnv, waitUntil} from '../stop/helpers.js'

/**
 * `datain verify` against a replicating sandbox: the built CLI, reading only, while the source
 * takes writes. Tables beside the sample data cover every column type and every kind of primary
 * key; the replica is changed behind replication's back (root, sql_log_bin=0) to make differences.
 */

const KEY_TABLES = [
  // Every column type, NULL and '' side by side.
  `CREATE TABLE shop.all_types (id INT PRIMARY KEY, j JSON NULL, b BLOB NULL, g GEOMETRY NULL, d DECIMAL(30,10) NULL, dt DATETIME(6) NULL,
     s VARCHAR(20) NULL, f FLOAT NULL, bt BIT(5) NULL, e ENUM('x','y') NULL, t TIME(3) NULL, ts TIMESTAMP(6) NULL) ENGINE=InnoDB`,
  `INSERT INTO shop.all_types VALUES
     (1, '{"a": [1, 2]}', x'00ff10', ST_GeomFromText('POINT(1 2)'), 12345678901234567890.0123456789, '2024-01-02 03:04:05.123456', NULL, 1.5, b'10101', 'x', '01:02:03.456', '2024-01-02 03:04:05.000001'),
     (2, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL, NULL, NULL),
     (3, '[]', '', ST_GeomFromText('LINESTRING(0 0, 1 1)'), -0.0000000001, '1000-01-01 00:00:00.000000', 'a', -2.25, b'0', 'y', '-838:59:59', NULL)`,
  // Composite key: integer then string then DATETIME(6).
  `CREATE TABLE shop.composite_pk (a INT NOT NULL, b VARCHAR(20) NOT NULL, c DATETIME(6) NOT NULL, v INT NOT NULL, PRIMARY KEY (a, b, c)) ENGINE=InnoDB`,
  `INSERT INTO shop.composite_pk SELECT seq % 7, CONCAT('k', seq % 13), '2024-01-01' + INTERVAL seq MICROSECOND, seq FROM shop.seq_1_to_500`,
  // A string key in a case-insensitive collation, with accents: chunk bounds must follow the collation.
  `CREATE TABLE shop.string_pk (k VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`,
  `INSERT INTO shop.string_pk SELECT CONCAT(ELT(1 + seq % 4, 'a', 'B', 'é', 'Z'), LPAD(seq, 5, '0')), seq FROM shop.seq_1_to_400`,
  // A binary key with NUL and 0xFF bytes.
  `CREATE TABLE shop.binary_pk (k VARBINARY(16) NOT NULL PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`,
  `INSERT INTO shop.binary_pk SELECT UNHEX(CONCAT(LPAD(HEX(seq % 256), 2, '0'), '00ff', LPAD(HEX(seq), 4, '0'))), seq FROM shop.seq_1_to_300`,
  // Unsigned BIGINT beyond 2^63.
  `CREATE TABLE shop.big_pk (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`,
  `INSERT INTO shop.big_pk SELECT 18446744073709551615 - seq * 1000, seq FROM shop.seq_0_to_299`,
]

let e: Env | undefined

async function verify(args: string[], exitCode: number): Promise<VerifyResult> {
  return json<VerifyResult>(e!, ['verify', '--chunk-rows', '100', ...args], exitCode)
}

/** Runs `statements` on the replica as root without writing them to its binlog: a change behind replication's back. */
async function changeReplica(statements: string[]): Promise<void> {
  const conn = await e!.sandbox.replica.server.connectAsRoot()
  try {
    await conn.query('SET SESSION sql_log_bin = 0')
    for (const sql of statements) await conn.query(sql)
  } finally {
    await conn.end()
  }
}

function table(result: VerifyResult, name: string) {
  const t = result.tables.find((x) => x.table === name)
  expect(t, `${name} in ${result.tables.map((x) => x.table).join(', ')}`).toBeDefined()
  return t!
}

describe('datain verify', () => {
  beforeAll(async () => {
    e = await newEnv()
    await e.sandbox.source.server.execute(KEY_TABLES)
    expect((await e.run(['init'])).exitCode).toBe(0)
    const start = await e.run(['start'])
    expect(start.exitCode, start.stderr).toBe(0)
  }, 240_000)
  afterAll(async () => {
    if (e) expectNoSecrets(e)
    await dispose(e)
  })

  it('finds every table identical while the source takes a steady write load', async () => {
    const load = await startWriteLoad(e!.sandbox, 'shop', 2)
    let result: VerifyResult
    try {
      // Chunk by chunk everywhere (CHECKSUM TABLE would settle the tables the load does not touch at once), three times over.
      result = await verify(['--parallel', '3', '--no-table-checksum'], 0)
      for (const parallel of ['1', '2']) expect((await verify(['--parallel', parallel, '--no-table-checksum'], 0)).identical).toBe(true)
    } finally {
      expect((await load.stop()).statements).toBeGreaterThan(20)
    }
    expect(result.identical).toBe(true)
    expect(result.differencesTotal).toBe(0)
    for (const name of ['shop.all_types', 'shop.composite_pk', 'shop.string_pk', 'shop.binary_pk', 'shop.big_pk', 'shop.customers', 'shop.orders'])
      expect(table(result, name).differencesTotal).toBe(0)
    expect(table(result, 'shop.composite_pk').rows).toBe(500)
    expect(table(result, 'shop.string_pk').chunks).toBeGreaterThanOrEqual(4)
  }, 120_000)

  it('narrows to --tables and to --databases, and refuses names it did not copy (exit 2)', async () => {
    const one = await verify(['--tables', 'shop.big_pk,shop.orders'], 0)
    expect(one.tables.map((t) => t.table).sort()).toEqual(['shop.big_pk', 'shop.orders'])
    const db = await verify(['--databases', 'shop'], 0)
    expect(db.tablesCompared).toBeGreaterThan(5)
    const bad = await e!.run(['verify', '--tables', 'shop.nope'])
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toContain('shop.nope')
    expect((await e!.run(['verify', '--databases', 'mysql'])).exitCode).toBe(2)
  }, 120_000)

  it('waits for a replica that has not applied a write yet instead of reporting it', async () => {
    // MASTER_DELAY: the replica applies each event 10 s after the source wrote it, a deterministic lag.
    await e!.sandbox.replica.server.execute(['STOP SLAVE', 'CHANGE MASTER TO MASTER_DELAY = 10', 'START SLAVE'])
    try {
      await e!.sandbox.source.server.execute(['UPDATE shop.order_items SET quantity = quantity + 1 WHERE order_id <= 50'])
      const result = await verify(['--tables', 'shop.order_items', '--wait-timeout', '40'], 0)
      expect(result.identical).toBe(true)
      expect(table(result, 'shop.order_items').rechecks).toBeGreaterThan(0)
    } finally {
      await e!.sandbox.replica.server.execute(['STOP SLAVE', 'CHANGE MASTER TO MASTER_DELAY = 0', 'START SLAVE'])
    }
  }, 90_000)

  it('names a changed, a missing and an extra row of each kind of key, and nothing else, under load', async () => {
    await changeReplica([
      "UPDATE shop.all_types SET s = NULL WHERE id = 2", // '' → NULL
      'UPDATE shop.all_types SET dt = dt + INTERVAL 1 MICROSECOND WHERE id = 1',
      "DELETE FROM shop.composite_pk WHERE a = 3 AND b = 'k10' AND c = '2024-01-01 00:00:00.000010'",
      "INSERT INTO shop.string_pk VALUES ('zz-extra', 1)",
      'UPDATE shop.binary_pk SET v = -1 WHERE k = UNHEX(CONCAT(\'05\', \'00ff\', \'0005\'))',
      'UPDATE shop.big_pk SET v = -1 WHERE id = 18446744073709551615',
      'UPDATE shop.customers SET location = ST_GeomFromText(\'POINT(9 9)\') WHERE id = 7',
      'DROP TABLE shop.daily_sales',
      'ALTER TABLE shop.products DROP COLUMN thumbnail',
    ])
    const load = await startWriteLoad(e!.sandbox, 'shop', 2)
    let result: VerifyResult
    try {
      result = await verify([], 1)
    } finally {
      await load.stop()
    }
    expect(result.identical).toBe(false)
    expect(table(result, 'shop.all_types').differences).toEqual([{id: '1'}, {id: '2'}])
    expect(table(result, 'shop.composite_pk').differences).toEqual([{a: '3', b: 'k10', c: '2024-01-01 00:00:00.000010'}])
    expect(table(result, 'shop.string_pk').differences).toEqual([{k: 'zz-extra'}])
    expect(table(result, 'shop.binary_pk').differences).toEqual([{k: '0x0500FF0005'}])
    expect(table(result, 'shop.big_pk').differences).toEqual([{id: '18446744073709551615'}])
    expect(table(result, 'shop.customers').differences).toEqual([{id: '7'}])
    expect(result.differencesTotal).toBe(7)
    expect(table(result, 'shop.daily_sales').missingOnReplica).toBe(true)
    expect(table(result, 'shop.products').columnsDiffer).toBe(true)
    // Compared chunk by chunk, the bounds stepped through each kind of key, every source row in exactly one chunk.
    for (const [name, rows, chunks] of [['shop.string_pk', 400, 4], ['shop.binary_pk', 300, 3], ['shop.composite_pk', 500, 5], ['shop.big_pk', 300, 3]] as const) {
      expect(table(result, name).rows, name).toBe(rows)
      expect(table(result, name).chunks, name).toBeGreaterThanOrEqual(chunks)
    }

    const human = await e!.run(['verify', '--tables', 'shop.all_types,shop.string_pk'])
    expect(human.exitCode).toBe(1)
    expect(human.stdout).toContain('shop.all_types: 2 rows differ: id=1; id=2')
    expect(human.stdout).toContain('shop.string_pk: 1 row differs: k=zz-extra')
  }, 120_000)

  it('compares a table whose replica columns mix character sets where the source\'s share one collation: as bytes, without failing', async () => {
    // On the source the strings go into the row encoding uncast; on this replica CONCAT_WS cannot
    // mix utf8mb4 with utf16 (error 1271), so the chunk is read again with every string cast.
    await e!.sandbox.source.server.execute([
      'CREATE TABLE shop.collations (id INT PRIMARY KEY, a VARCHAR(10) NOT NULL, b VARCHAR(10) NOT NULL) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci',
      "INSERT INTO shop.collations VALUES (1, 'é', 'x'), (2, 'a', 'b')",
    ])
    await waitUntil(async () => {
      const [row] = (await e!.sandbox.replica.server.query(
        "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'collations'",
      )) as Array<{n: bigint}>
      return Number(row!.n) === 1 && Number(((await e!.sandbox.replica.server.query('SELECT COUNT(*) AS n FROM shop.collations')) as Array<{n: bigint}>)[0]!.n) === 2
    })
    await changeReplica(['ALTER TABLE shop.collations MODIFY b VARCHAR(10) CHARACTER SET utf16 NOT NULL'])
    const result = await verify(['--tables', 'shop.collations'], 1)
    // 'x' and 'b' are other bytes in UTF-16: both rows differ, each named.
    expect(table(result, 'shop.collations').differences).toEqual([{id: '1'}, {id: '2'}])
    expect(table(result, 'shop.collations').columnsDiffer).toBeUndefined()
  }, 120_000)

  it('exits 4 when the replica refuses the login', async () => {
    const result = await e!.run(['verify'], {DATAIN_REPLICA_PASSWORD: 'not-the-password'})
    expect(result.exitCode, result.stderr).toBe(4)
    expect(result.stderr).toContain('1045')
  }, 60_000)

  it('exits 3 and compares nothing when replication is broken', async () => {
    await e!.sandbox.replica.server.execute(['STOP SLAVE SQL_THREAD'])
    try {
      const result = await e!.run(['verify', '--json'])
      expect(result.exitCode, result.stdout).toBe(3)
      expect(JSON.parse(result.stdout).error.code).toBe('E_VERIFY_BROKEN')
    } finally {
      await e!.sandbox.replica.server.execute(['START SLAVE SQL_THREAD'])
    }
  }, 60_000)
})
