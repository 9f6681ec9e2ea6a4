/**
 * A source whose names and data an attacker (or an odd history) shaped, through the whole life of a
 * `--target mariadb` replica: init → start → writes → status → verify (which must also find a row
 * changed on the replica behind datain's back) → stop --cutover; the replica ends identical,
 * table by table (CHECKSUM TABLE … EXTENDED) and object by object (SHOW CREATE).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import {dispose, type Env as TargetEnv, newTargetEnv, waitUntil} from '../stop/helpers.js'

type Env = TargetEnv<AnySandbox>
const q = (name: string) => `\`${name.replaceAll('`', '``')}\``

// 64 characters, every kind the server allows in a name (no character beyond the BMP: error 1300).
const WILD = `w%_x.y 'q"\`ñ${'z'.repeat(64)}`.slice(0, 64)
// What `WILD`'s `%`/`_` would match if used unescaped as a LIKE pattern: must NOT be copied.
const WILD_LOOKALIKE = `w%Ax.y 'q"\`ñ${'z'.repeat(64)}`.slice(0, 64)
const SYS_LIKE = 'mysql_x'
const IS_LIKE = 'information_schema_x'
const COPIED = [WILD, SYS_LIKE, IS_LIKE]
const T64 = `t.${'é'.repeat(62)}`

const SCHEMA = [
  `CREATE DATABASE ${q(WILD)} DEFAULT CHARSET utf8mb4`,
  `CREATE DATABASE ${q(WILD_LOOKALIKE)}`,
  `CREATE DATABASE ${q(SYS_LIKE)} DEFAULT CHARSET utf8mb4`,
  `CREATE DATABASE ${q(IS_LIKE)} DEFAULT CHARSET utf8mb4`,
  `CREATE TABLE ${q(WILD_LOOKALIKE)}.t (id INT PRIMARY KEY)`,
  `INSERT INTO ${q(WILD_LOOKALIKE)}.t VALUES (1)`,
  // Names differing only in case (lower_case_table_names = 0), and a 64-character name with dots.
  `CREATE TABLE ${q(WILD)}.${q('Case')} (id INT PRIMARY KEY, v VARCHAR(10))`,
  `CREATE TABLE ${q(WILD)}.${q('case')} (id INT PRIMARY KEY, v VARCHAR(10))`,
  `CREATE TABLE ${q(WILD)}.${q(T64)} (${q(`c\`'" .${'ü'.repeat(50)}`)} INT PRIMARY KEY, v TEXT CHARSET utf8mb4)`,
  // No primary key; a composite non-integer key; BIGINT UNSIGNED near 2^64-1; negative and sparse keys.
  `CREATE TABLE ${q(WILD)}.nopk (a INT, b VARCHAR(20))`,
  `CREATE TABLE ${q(SYS_LIKE)}.composite (k VARBINARY(16), d DATE, s VARCHAR(10) COLLATE utf8mb4_bin, v INT, PRIMARY KEY (k, d, s))`,
  `CREATE TABLE ${q(SYS_LIKE)}.huge (id BIGINT UNSIGNED PRIMARY KEY, v INT)`,
  `CREATE TABLE ${q(SYS_LIKE)}.negsparse (id BIGINT PRIMARY KEY, v INT)`,
  // Character sets and binary collations.
  `CREATE TABLE ${q(IS_LIKE)}.charsets (id INT PRIMARY KEY, l VARCHAR(20) CHARSET latin1, u2 VARCHAR(20) CHARSET ucs2, u16 VARCHAR(20) CHARSET utf16, u32 VARCHAR(20) CHARSET utf32, b VARCHAR(20) CHARSET utf8mb4 COLLATE utf8mb4_bin, e TEXT CHARSET utf8mb4)`,
  // Zero and invalid dates, stored under a lax sql_mode.
  `CREATE TABLE ${q(IS_LIKE)}.dates (id INT PRIMARY KEY, d DATE, dt DATETIME, ts TIMESTAMP NULL)`,
  // A sequence.
  `CREATE SEQUENCE ${q(IS_LIKE)}.seq START WITH 100 INCREMENT BY 7`,
  // Views on views, a trigger and an event that reach another database.
  `CREATE VIEW ${q(IS_LIKE)}.v1 AS SELECT id, v FROM ${q(SYS_LIKE)}.huge`,
  `CREATE VIEW ${q(IS_LIKE)}.v2 AS SELECT id FROM ${q(IS_LIKE)}.v1 WHERE v > 0`,
  `CREATE TABLE ${q(IS_LIKE)}.log (n INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40))`,
  `CREATE TRIGGER ${q(SYS_LIKE)}.tr AFTER INSERT ON ${q(SYS_LIKE)}.negsparse FOR EACH ROW INSERT INTO ${q(IS_LIKE)}.log (what) VALUES (CONCAT('neg ', NEW.id))`,
  `CREATE EVENT ${q(IS_LIKE)}.ev ON SCHEDULE EVERY 1 DAY STARTS '2031-01-01 00:00:00' DISABLE DO DELETE FROM ${q(WILD)}.nopk`,
]

const DATA = [
  `INSERT INTO ${q(WILD)}.${q('Case')} VALUES (1, 'upper')`,
  `INSERT INTO ${q(WILD)}.${q('case')} VALUES (1, 'lower')`,
  `INSERT INTO ${q(WILD)}.${q(T64)} VALUES (1, '🦆 \\\\ '' " \`'), (2, NULL)`,
  `INSERT INTO ${q(WILD)}.nopk VALUES (1, 'a'), (1, 'a'), (NULL, NULL), (2, '🦆')`,
  `INSERT INTO ${q(SYS_LIKE)}.composite VALUES (0x00, '2020-01-01', 'A', 1), (0x00, '2020-01-01', 'a ', 2), (0xFFFF, '1000-01-01', '', 3)`,
  `INSERT INTO ${q(SYS_LIKE)}.huge VALUES (0, 1), (1, 2), (18446744073709551614, 3), (18446744073709551615, 4), (9223372036854775808, 5)`,
  `INSERT INTO ${q(SYS_LIKE)}.negsparse VALUES (-9223372036854775808, 1), (-1, 2), (1, 3), (1000000000000000, 4), (9223372036854775807, 5)`,
  `INSERT INTO ${q(IS_LIKE)}.charsets VALUES (1, 'café', 'ü✓', '漢字', '🦆', 'ABC', '🦆\\0x'), (2, '', '', '', '', 'abc', NULL)`,
  "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
  `INSERT INTO ${q(IS_LIKE)}.dates VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'), (2, '2021-02-31', '2021-04-31 10:00:00', NULL), (3, '2021-00-00', '2000-01-01 00:00:00', '2038-01-19 03:14:07')`,
  'SET SESSION sql_mode = DEFAULT',
]

const WRITES = [
  `INSERT INTO ${q(SYS_LIKE)}.negsparse VALUES (-5, 6)`,
  `UPDATE ${q(SYS_LIKE)}.huge SET v = v + 10 WHERE id = 18446744073709551615`,
  `INSERT INTO ${q(WILD)}.nopk VALUES (3, 'after')`,
  `UPDATE ${q(WILD)}.${q('case')} SET v = 'LOWER2'`,
  `INSERT INTO ${q(IS_LIKE)}.charsets VALUES (3, 'ÿ', 'Ω', '🦆🦆', '𝄞', 'Z', 'late')`,
  `SELECT NEXTVAL(${q(IS_LIKE)}.seq)`,
  "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
  `INSERT INTO ${q(IS_LIKE)}.dates VALUES (4, '0000-00-00', '2022-02-30 00:00:00', NULL)`,
  'SET SESSION sql_mode = DEFAULT',
]

/**
 * Row count and CHECKSUM TABLE … EXTENDED of every base table, keyed by exact name (the sandbox's
 * tableFingerprints folds case, so `Case` and `case` would share one entry).
 */
async function fingerprints(server: AnySandbox['source']['server']): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const db of COPIED) {
    const tables = await server.query<Array<{t: string}>>("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", [db])
    for (const {t} of tables) {
      const [count] = await server.query<Array<{n: bigint}>>(`SELECT COUNT(*) AS n FROM ${q(db)}.${q(t)}`)
      const [sum] = await server.query<Array<{Checksum: bigint | null}>>(`CHECKSUM TABLE ${q(db)}.${q(t)} EXTENDED`)
      out[`${db}.${t}`] = `${count!.n} rows, checksum ${sum!.Checksum}`
    }
  }
  return out
}

async function objects(server: AnySandbox['source']['server']): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const db of COPIED) {
    const rows = await server.query<Array<{name: string; type: string}>>(
      `SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?
       UNION ALL SELECT TRIGGER_NAME, 'TRIGGER' FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?
       UNION ALL SELECT EVENT_NAME, 'EVENT' FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?`,
      [db, db, db],
    )
    for (const {name, type} of rows) {
      const kind = type === 'VIEW' ? 'VIEW' : type === 'TRIGGER' ? 'TRIGGER' : type === 'EVENT' ? 'EVENT' : type === 'SEQUENCE' ? 'SEQUENCE' : 'TABLE'
      const [row] = await server.query<Array<Record<string, string>>>(`SHOW CREATE ${kind} ${q(db)}.${q(name)}`)
      const text = ['Create Table', 'Create View', 'Create Event', 'SQL Original Statement'].map((k) => row![k]).find((v) => v !== undefined)
      out[`${db}.${kind}.${name}`] = String(text)
        .replace(/ AUTO_INCREMENT=\d+/, '')
        // The copy makes the replica admin every object's definer, as init warns.
        .replace(/DEFINER=`[^`]*`@`[^`]*`/, 'DEFINER=…')
    }
  }
  return out
}

describe('--target mariadb: hostile names and data, init to cutover', () => {
  let e: Env
  beforeAll(async () => {
    e = await newTargetEnv('mariadb', {sampleRows: 0, source: {lowerCaseTableNames: 0}, replica: {lowerCaseTableNames: 0}})
    await e.sandbox.source.server.execute([...SCHEMA, ...DATA])
  }, 120_000)
  afterAll(() => dispose(e))

  const noTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/)

  it('init and start with --databases naming the hostile databases; the lookalike is not copied', async () => {
    // A table without a primary key is refused; the fix init prints must run as it is.
    const refused = await e.run(['init', '--databases', COPIED.join(',')])
    noTrace(refused.stderr)
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(1)
    const fix = /^\s*(ALTER TABLE .*nopk.*;)$/m.exec(refused.stdout)?.[1]
    expect(fix, refused.stdout).toBeDefined()
    await e.sandbox.source.server.execute([fix!])
    const init = await e.run(['init', '--databases', COPIED.join(',')])
    expect(init.exitCode, init.stdout + init.stderr).toBe(0)
    const start = await e.run(['start'])
    noTrace(start.stderr)
    expect(start.exitCode, start.stdout + start.stderr).toBe(0)
    const dbs = await e.sandbox.replica.server.query<Array<{d: string}>>('SELECT SCHEMA_NAME AS d FROM information_schema.SCHEMATA')
    expect(dbs.map((r) => r.d)).toEqual(expect.arrayContaining(COPIED))
    expect(dbs.map((r) => r.d)).not.toContain(WILD_LOOKALIKE)
  }, 300_000)

  it('writes replicate; status and verify say identical; verify finds a row changed behind its back', async () => {
    await e.sandbox.source.server.execute([...WRITES, `INSERT INTO ${q(WILD_LOOKALIKE)}.t VALUES (2)`])
    const [{pos}] = (await e.sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
    await waitUntil(async () => {
      const [row] = await e.sandbox.replica.server.query<Array<{ok: number | null}>>('SELECT MASTER_GTID_WAIT(?, 0) = 0 AS ok', [pos])
      return Number(row?.ok) === 1
    }, 60_000)
    const status = await e.run(['status'])
    noTrace(status.stderr)
    expect(status.exitCode, status.stdout + status.stderr).toBe(0)
    expect(await fingerprints(e.sandbox.replica.server)).toEqual(await fingerprints(e.sandbox.source.server))

    const verify = await e.run(['verify'])
    noTrace(verify.stderr)
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0)

    await e.sandbox.replica.server.execute([`UPDATE ${q(SYS_LIKE)}.huge SET v = 999 WHERE id = 18446744073709551614`])
    const differs = await e.run(['verify', '--json'])
    noTrace(differs.stderr)
    expect(differs.exitCode, differs.stdout + differs.stderr).toBe(1)
    expect(differs.stdout).toContain('18446744073709551614')
    await e.sandbox.replica.server.execute([`UPDATE ${q(SYS_LIKE)}.huge SET v = 3 WHERE id = 18446744073709551614`])

    // A change to `case` only: verify must not take it for `Case`, nor miss it.
    await e.sandbox.replica.server.execute([`UPDATE ${q(WILD)}.${q('case')} SET v = 'behind'`])
    const caseDiffers = await e.run(['verify', '--json'])
    expect(caseDiffers.exitCode, caseDiffers.stdout + caseDiffers.stderr).toBe(1)
    const report = JSON.parse(caseDiffers.stdout) as {tables: Array<{table: string; differences: unknown[]; differencesTotal: number}>}
    await e.sandbox.replica.server.execute([`UPDATE ${q(WILD)}.${q('case')} SET v = 'LOWER2'`])
    const byName = (name: string) => report.tables.find((t) => t.table === `${WILD}.${name}`)
    expect(byName('case')).toMatchObject({differences: [{id: '1'}], differencesTotal: 1})
    expect(byName('Case')).toMatchObject({differences: [], differencesTotal: 0})
  }, 300_000)

  it('stop --cutover: the replica ends identical, table by table and object by object', async () => {
    const stop = await e.run(['stop', '--cutover'])
    noTrace(stop.stderr)
    expect(stop.exitCode, stop.stdout + stop.stderr).toBe(0)
    expect(await fingerprints(e.sandbox.replica.server)).toEqual(await fingerprints(e.sandbox.source.server))
    expect(await objects(e.sandbox.replica.server)).toEqual(await objects(e.sandbox.source.server))
    const [seq] = await e.sandbox.replica.server.query<Array<{n: bigint}>>(`SELECT NEXTVAL(${q(IS_LIKE)}.seq) AS n`)
    const [src] = await e.sandbox.source.server.query<Array<{n: bigint}>>(`SELECT NEXTVAL(${q(IS_LIKE)}.seq) AS n`)
    // The source hands out cached values (CACHE 1000) that the replica never saw: its next value is
    // past every one the source could have given, as after a restart of the source; never a reuse.
    expect(seq!.n).toBeGreaterThanOrEqual(src!.n)
  }, 300_000)
})

// Without a sequence the parallel copy loads the rows: the same dates must arrive as they are.
describe('--target mariadb: invalid dates a lax source kept, through the parallel copy', () => {
  let e: Env
  beforeAll(async () => {
    e = await newTargetEnv('mariadb', {sampleRows: 0})
    await e.sandbox.source.server.execute([
      'CREATE DATABASE lax',
      'CREATE TABLE lax.dates (id INT PRIMARY KEY, d DATE, dt DATETIME)',
      "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
      "INSERT INTO lax.dates VALUES (1, '2021-02-31', '2021-04-31 10:00:00'), (2, '0000-00-00', '0000-00-00 00:00:00'), (3, '2020-02-29', NULL)",
      'SET SESSION sql_mode = DEFAULT',
    ])
  }, 120_000)
  afterAll(() => dispose(e))

  it('start copies them unchanged, and verify says identical', async () => {
    expect((await e.run(['init', '--databases', 'lax'])).exitCode).toBe(0)
    const start = await e.run(['start'])
    expect(start.exitCode, start.stdout + start.stderr).toBe(0)
    const read = (server: AnySandbox['source']['server']) => server.query('SELECT id, CAST(d AS CHAR) AS d, CAST(dt AS CHAR) AS dt FROM lax.dates ORDER BY id')
    expect(await read(e.sandbox.replica.server)).toEqual(await read(e.sandbox.source.server))
    expect(await read(e.sandbox.replica.server)).toContainEqual({id: 1, d: '2021-02-31', dt: '2021-04-31 10:00:00'})
    const verify = await e.run(['verify'])
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0)
  }, 300_000)
})
