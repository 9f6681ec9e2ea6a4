/**
 * Preflight at scale: the checks run a few at once and share the answers several of them need, and
 * the binary log check sizes the tables from InnoDB's persistent statistics instead of opening each
 * one; its figure must stay the one information_schema gives, whatever the tables are.
 */
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import mariadb, {type Connection} from 'mariadb'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {MariaDbServer} from '../../sandbox/mariadb-server.js'
import {dataBytes, TABLES_SIZED_ONE_BY_ONE} from '../../src/preflight/access/data-bytes.js'
import type {Check, PreflightContext} from '../../src/preflight/check.js'
import {filterHits, wildIgnoreTableValue} from '../../src/preflight/compat/database-filter.js'
import {selectedTables} from '../../src/preflight/compat/tables.js'
import {caseInsensitiveLike, likeMatch} from '../../src/lib/sql.js'
import {CONCURRENT_CHECKS, runChecks} from '../../src/preflight/run.js'
import {sharedAnswer} from '../../src/preflight/shared.js'
import {DEFAULT_SETTINGS} from '../helpers/preflight.js'
import {DatainError, ExitCode} from '../../src/lib/errors.js'

let dir: string
let server: MariaDbServer
const open: Connection[] = []

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'datain-preflight-scale-'))
  server = await MariaDbServer.start({dir, serverId: 21})
  await server.execute([
    "CREATE USER full@'%' IDENTIFIED BY 'fullpw'",
    "GRANT SELECT, PROCESS ON *.* TO full@'%'",
    // No PROCESS: cannot tell whether a table is compressed, so no statistics.
    "CREATE USER noprocess@'%' IDENTIFIED BY 'noprocesspw'",
    "GRANT SELECT ON `shop`.* TO noprocess@'%'",
    "GRANT SELECT ON mysql.innodb_table_stats TO noprocess@'%'",
    'CREATE DATABASE shop',
    'CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(200), KEY note (note))',
    'INSERT INTO shop.orders SELECT seq, REPEAT(CHAR(65 + seq % 26), 150) FROM shop.seq_1_to_3000',
    'CREATE TABLE shop.items (id INT PRIMARY KEY) ENGINE=InnoDB',
    'CREATE TABLE shop.legacy (id INT PRIMARY KEY, v TEXT) ENGINE=MyISAM',
    "INSERT INTO shop.legacy SELECT seq, REPEAT('x', 300) FROM shop.seq_1_to_500",
    'CREATE TABLE shop.parts (id INT PRIMARY KEY) PARTITION BY HASH(id) PARTITIONS 3',
    'INSERT INTO shop.parts SELECT seq FROM shop.seq_1_to_2000',
    'CREATE TABLE shop.history (id INT PRIMARY KEY) WITH SYSTEM VERSIONING',
    'CREATE TABLE shop.transient (id INT PRIMARY KEY, pad CHAR(200)) STATS_PERSISTENT=0',
    "INSERT INTO shop.transient SELECT seq, 'p' FROM shop.seq_1_to_1000",
    'CREATE TABLE shop.`odd#P#name` (id INT PRIMARY KEY)',
    'CREATE VIEW shop.recent AS SELECT id FROM shop.orders',
    'ANALYZE TABLE shop.orders, shop.parts',
  ])
}, 120_000)

afterAll(async () => {
  await Promise.allSettled(open.map((c) => c.end()))
  await server?.stop()
  if (dir) await rm(dir, {recursive: true, force: true})
})

/** A connection as `user`, with every statement it sends recorded. */
async function connect(user: string): Promise<{conn: Connection; sent: string[]}> {
  const conn = await mariadb.createConnection({host: '127.0.0.1', port: server.port, user, password: `${user}pw`})
  open.push(conn)
  const sent: string[] = []
  const query = conn.query.bind(conn)
  conn.query = ((sql: string, values?: unknown) => {
    sent.push(String(sql))
    return query(sql, values)
  }) as Connection['query']
  return {conn, sent}
}

/** What information_schema says, every table opened: the figure the check always gave. */
async function informationSchemaBytes(databases: string[]): Promise<number> {
  const [row] = await server.query<Array<{bytes: unknown}>>(
    `SELECT SUM(COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0)) AS bytes FROM information_schema.TABLES
      WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (${databases.map(() => '?').join(', ')})`,
    databases,
  )
  return Number(row!.bytes ?? 0)
}

const singlePass = (sent: string[]) => sent.some((sql) => /SUM\(COALESCE\(DATA_LENGTH/.test(sql))

describe('dataBytes', () => {
  it('gives the figure information_schema gives, from InnoDB statistics, sizing only the tables they do not answer for one by one', async () => {
    const {conn, sent} = await connect('full')
    const expected = await informationSchemaBytes(['shop'])
    expect(expected).toBeGreaterThan(100_000)
    expect(await dataBytes({source: conn, databases: ['shop'], shared: new Map()})).toBe(expected)
    expect(singlePass(sent)).toBe(false)
    expect(sent.some((sql) => sql.includes('mysql.innodb_table_stats'))).toBe(true)
    // MyISAM, partitioned, not persistent, and the '#' name: sized one by one, by name.
    const oneByOne = sent.filter((sql) => sql.includes('TABLE_NAME = ?'))
    expect(oneByOne).toHaveLength(4)
  })

  it('falls back to the single pass without PROCESS, and still gives the same figure', async () => {
    const {conn, sent} = await connect('noprocess')
    expect(await dataBytes({source: conn, databases: ['shop']})).toBe(await informationSchemaBytes(['shop']))
    expect(singlePass(sent)).toBe(true)
  })

  it('falls back to the single pass when the server holds a compressed table (its page is not the page size)', async () => {
    await server.execute(['CREATE TABLE shop.packed (id INT PRIMARY KEY, pad CHAR(200)) ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=4', "INSERT INTO shop.packed SELECT seq, 'z' FROM shop.seq_1_to_2000"])
    try {
      const {conn, sent} = await connect('full')
      expect(await dataBytes({source: conn, databases: ['shop']})).toBe(await informationSchemaBytes(['shop']))
      expect(singlePass(sent)).toBe(true)
    } finally {
      await server.execute(['DROP TABLE shop.packed'])
    }
  })

  it(`falls back to the single pass when more than ${TABLES_SIZED_ONE_BY_ONE} tables need sizing one by one`, async () => {
    const names = Array.from({length: TABLES_SIZED_ONE_BY_ONE + 1}, (_, i) => `many.m${i}`)
    await server.execute(['CREATE DATABASE many', ...names.map((n) => `CREATE TABLE ${n} (id INT PRIMARY KEY) ENGINE=MyISAM`)])
    try {
      const {conn, sent} = await connect('full')
      expect(await dataBytes({source: conn, databases: ['many', 'shop']})).toBe(await informationSchemaBytes(['many', 'shop']))
      expect(singlePass(sent)).toBe(true)
      expect(sent.filter((sql) => sql.includes('TABLE_NAME = ?'))).toHaveLength(0)
    } finally {
      await server.execute(['DROP DATABASE many'])
    }
  })

  it('does not ask again on a connection that is lost or a server that does not answer', async () => {
    for (const failure of [Object.assign(new Error('socket closed'), {fatal: true}), new DatainError('no answer', {code: 'E_SOURCE_UNRESPONSIVE', exit: ExitCode.unreachable})]) {
      const sent: string[] = []
      const conn = {
        query: async (sql: string) => {
          sent.push(sql)
          if (sql.includes('information_schema.TABLES')) return [{db: 'shop', name: 'orders', engine: 'InnoDB', type: 'BASE TABLE'}]
          if (sql.startsWith('SHOW GLOBAL VARIABLES')) return [{Variable_name: 'lower_case_table_names', Value: '0'}, {Variable_name: 'innodb_stats_persistent', Value: 'ON'}]
          throw failure
        },
      } as unknown as Connection
      await expect(dataBytes({source: conn, databases: ['shop']})).rejects.toBe(failure)
      // It failed on the statistics' first query, and went no further.
      expect(sent.at(-1)).toContain('INNODB_SYS_TABLES')
      expect(singlePass(sent)).toBe(false)
    }
  })

  it('is 0 for no database or a database without tables', async () => {
    const {conn} = await connect('full')
    await server.execute(['CREATE DATABASE empty_one'])
    try {
      expect(await dataBytes({source: conn, databases: []})).toBe(0)
      expect(await dataBytes({source: conn, databases: ['empty_one']})).toBe(0)
    } finally {
      await server.execute(['DROP DATABASE empty_one'])
    }
  })
})

describe('runChecks', () => {
  const ctx = (shared?: PreflightContext['shared']) => ({settings: DEFAULT_SETTINGS, source: {} as Connection, own: {replicaDatabases: [], replicationUserCreated: false, firewallRules: []}, databases: [], shared}) as PreflightContext
  const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  it('runs a few checks at once, reports them in their order, and asks a shared question once', async () => {
    let running = 0
    let most = 0
    let asked = 0
    const checks: Check[] = Array.from({length: 10}, (_, i) => ({
      id: `c${i}`,
      title: `check ${i}`,
      needs: [],
      async run(c) {
        running++
        most = Math.max(most, running)
        const answer = await sharedAnswer(c, 'question', async () => {
          asked++
          await delay(20)
          return 42
        })
        await delay(((i * 7) % 5) * 5)
        running--
        return {status: 'pass', message: `${i}: ${answer}`}
      },
    }))
    const results = await runChecks(checks, ctx())
    expect(results.map((r) => r.message)).toEqual(checks.map((_, i) => `${i}: 42`))
    expect(most).toBe(CONCURRENT_CHECKS)
    expect(asked).toBe(1)
    // Each run asks again: nothing is kept from one run to the next.
    await runChecks(checks, ctx())
    expect(asked).toBe(2)
  })

  it('throws the first failure in order, and starts no check after a failure', async () => {
    const started: number[] = []
    const checks: Check[] = Array.from({length: 12}, (_, i) => ({
      id: `c${i}`,
      title: `check ${i}`,
      needs: [],
      async run() {
        started.push(i)
        await delay(i === 2 ? 30 : 5)
        if (i === 2 || i === 3) throw new Error(`check ${i} broke`)
        return {status: 'pass', message: 'ok'}
      },
    }))
    await expect(runChecks(checks, ctx())).rejects.toThrow('check 2 broke')
    // Check 3 fails first in time; what had started by then finishes, nothing else starts.
    expect(Math.max(...started)).toBeLessThan(3 + CONCURRENT_CHECKS)
  })

  it('does not keep a failed shared answer: the next check asks again', async () => {
    let asked = 0
    const shared = new Map<string, Promise<unknown>>()
    const ask = async () => {
      asked++
      if (asked === 1) throw new Error('lost')
      return 'fine'
    }
    await expect(sharedAnswer({shared}, 'q', ask)).rejects.toThrow('lost')
    await expect(sharedAnswer({shared}, 'q', ask)).resolves.toBe('fine')
    await expect(sharedAnswer({shared}, 'q', ask)).resolves.toBe('fine')
    expect(asked).toBe(2)
  })
})

describe('selectedTables', () => {
  it('reads the tables once per run, and each type as the server says', async () => {
    const {conn, sent} = await connect('full')
    const c = {source: conn, databases: ['shop'], shared: new Map()}
    const [a, b] = await Promise.all([selectedTables(c), selectedTables(c)])
    expect(a).toBe(b)
    expect(sent.filter((sql) => sql.includes('information_schema.TABLES'))).toHaveLength(1)
    expect(a.find((t) => t.table === 'history')?.type).toBe('SYSTEM VERSIONED')
    expect(a.find((t) => t.table === 'legacy')).toMatchObject({engine: 'MyISAM', type: 'BASE TABLE'})
    expect(a.some((t) => t.table === 'recent')).toBe(false)
  })
})

describe('caseInsensitiveLike', () => {
  it('agrees with likeMatch on random patterns and names (wildcards, escapes, case, astral and dotted characters)', () => {
    const alphabet = ['%', '_', '\\', '.', 'a', 'A', 'b', 'é', 'É', 'İ', 'i', '😀', '[', '(', '*', '$', '^', '|', '-', ',', '\n']
    let seed = 17
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed % n
    }
    const word = (max: number) => Array.from({length: random(max)}, () => alphabet[random(alphabet.length)]).join('')
    for (let i = 0; i < 3000; i++) {
      const pattern = word(8)
      const matches = caseInsensitiveLike(pattern)
      for (let j = 0; j < 5; j++) {
        const text = word(10)
        expect(matches(text), `${JSON.stringify(pattern)} against ${JSON.stringify(text)}`).toBe(likeMatch(pattern, text, {caseInsensitive: true}))
      }
    }
  })

  it('stays quick on a hostile rule of many %, and on 20,000 tables against the rules of 5 databases', () => {
    const hostile = caseInsensitiveLike(`${'%a'.repeat(30)}%b`)
    const started = performance.now()
    expect(hostile('a'.repeat(200))).toBe(false)
    const copied = [{database: 'shop', tables: Array.from({length: 20_000}, (_, i) => `t${i}`)}]
    expect(filterHits(wildIgnoreTableValue(['a_b', 'c%d', 'e,f', 'g.h', 'shop_x']), copied)).toEqual([])
    expect(filterHits('sh_p.t1999%', copied)).toEqual(['shop.t1999', ...Array.from({length: 10}, (_, i) => `shop.t1999${i}`)])
    expect(performance.now() - started).toBeLessThan(2000)
  })
})
