import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Sandbox} from '../../sandbox/sandbox.js'
import {tableFingerprints} from '../../sandbox/table-fingerprints.js'
import {benchmarkStatements} from '../../sandbox/sample-data.js'
import {connectTo, type ServerAddress} from '../../src/lib/mariadb.js'
import {KeyBuilds} from '../../src/snapshot/parallel/key-builds.js'
import type {TableInfo} from '../../src/snapshot/parallel/tables.js'
import {type ParallelCopyOptions, parallelCopy} from '../../src/snapshot/parallel/parallel-copy.js'
import {startCopySandbox} from '../helpers/copy-sandbox.js'
import {memoryLog} from './memory-log.js'

/**
 * The plain secondary keys of large tables are built after their rows (KeyBuilds): the replica's
 * tables must come out exactly as the source defines them (SHOW CREATE TABLE, byte for byte), a
 * table a FOREIGN KEY references must keep what that key needs, and a copy stopped before a build
 * must get the keys on its resume. Every eligible table is deferred here (deferKeysBytes 0).
 */

const DATABASES = ['keyed', 'bench']
let sandbox: Sandbox
let source: ServerAddress
let replica: ServerAddress

beforeAll(async () => {
  ;({sandbox, source, replica} = await startCopySandbox())
  await sandbox.source.server.execute([
    ...benchmarkStatements({tables: 2, rows: 40_000}),
    'CREATE DATABASE keyed',
    // Keys of every kind the build keeps in order: unique (NOT NULL and nullable), prefixes, DESC, composite, comments, ignored.
    `CREATE TABLE keyed.wide (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, a INT NOT NULL, b VARCHAR(40) NULL, c TEXT NULL, d DATETIME(3) NULL,
      PRIMARY KEY (id), KEY \`by b, a\` (b(10), a DESC) COMMENT 'a ''quoted'' KEY \`x\` (y),', UNIQUE KEY u_a (a),
      KEY \`k\`\`tick\` (d), UNIQUE KEY u_bd (b, d), KEY k_ignored (a, d) IGNORED,
      CONSTRAINT positive CHECK (a >= 0)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='wide, KEY \`z\` (a)' ROW_FORMAT=DYNAMIC`,
    `INSERT INTO keyed.wide (a, b, c, d) SELECT seq, IF(seq % 7 = 0, NULL, CONCAT('b', seq % 500)), REPEAT('c', seq % 30), '2024-01-01' + INTERVAL seq SECOND FROM keyed.seq_1_to_20000`,
    // A parent whose plain key a child's FOREIGN KEY needs: larger than the child, so planned in an earlier slice.
    `CREATE TABLE keyed.parent (id INT NOT NULL PRIMARY KEY, code INT NOT NULL, note VARCHAR(100), KEY ix_code (code), KEY ix_note (note)) ENGINE=InnoDB`,
    `INSERT INTO keyed.parent SELECT seq, seq * 3, REPEAT('p', 80) FROM keyed.seq_1_to_12000`,
    `CREATE TABLE keyed.child (id INT NOT NULL PRIMARY KEY, parent_code INT NULL, KEY ix_parent_code (parent_code),
      CONSTRAINT to_parent FOREIGN KEY (parent_code) REFERENCES parent (code)) ENGINE=InnoDB`,
    'INSERT INTO keyed.child SELECT seq, seq * 3 FROM keyed.seq_1_to_300',
    // The same, with the parent smaller than its child: planned in a later slice, after the child's FOREIGN KEY was read.
    `CREATE TABLE keyed.small_parent (id INT NOT NULL PRIMARY KEY, code INT NOT NULL, KEY ix_code (code)) ENGINE=InnoDB`,
    'INSERT INTO keyed.small_parent SELECT seq, seq FROM keyed.seq_1_to_50',
    `CREATE TABLE keyed.big_child (id INT NOT NULL PRIMARY KEY, sp INT NULL, pad CHAR(200) NOT NULL DEFAULT '', KEY ix_pad (pad(20)),
      CONSTRAINT to_small FOREIGN KEY (sp) REFERENCES small_parent (code)) ENGINE=InnoDB`,
    "INSERT INTO keyed.big_child SELECT seq, 1 + seq % 50, REPEAT('x', 150) FROM keyed.seq_1_to_15000",
    'ANALYZE TABLE keyed.wide, keyed.parent, keyed.child, keyed.small_parent, keyed.big_child, bench.sbtest1, bench.sbtest2',
  ])
})

afterAll(async () => {
  await sandbox?.stop()
})

async function copy(options: Partial<ParallelCopyOptions> = {}) {
  return parallelCopy({source, replica, databases: DATABASES, threads: 2, signal: new AbortController().signal, deferKeysBytes: 0, schemaSlice: 1, ...options})
}

async function definitions(server: Sandbox['source']['server']): Promise<Record<string, string>> {
  const tables = await server.query<Array<{db: string; t: string}>>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('keyed', 'bench') AND TABLE_TYPE = 'BASE TABLE'`,
  )
  const out: Record<string, string> = {}
  for (const {db, t} of tables) {
    const [row] = await server.query<Array<Record<string, string>>>(`SHOW CREATE TABLE \`${db}\`.\`${t.replaceAll('`', '``')}\``)
    out[`${db}.${t}`] = row!['Create Table']!.replace(/ AUTO_INCREMENT=\d+/, '')
  }
  return out
}

async function expectExactCopy(): Promise<void> {
  const expected = await definitions(sandbox.source.server)
  expect(Object.keys(expected)).toHaveLength(7)
  expect(await definitions(sandbox.replica.server)).toEqual(expected)
  expect(await tableFingerprints(sandbox.replica.server, DATABASES, {extended: true})).toEqual(await tableFingerprints(sandbox.source.server, DATABASES, {extended: true}))
}

const dropReplica = () => sandbox.replica.server.execute(['DROP DATABASE IF EXISTS keyed', 'DROP DATABASE IF EXISTS bench'])

describe('secondary keys built after the rows', () => {
  it('builds them after the rows of every eligible table, and the tables come out exactly as the source defines them', async () => {
    await dropReplica()
    const result = await copy()
    // sbtest1, sbtest2 and wide after their rows; parent too, but before child was created (a slice a table here, parent's
    // first); small_parent not at all (big_child, which references it, came first); big_child and child have FOREIGN KEYs.
    expect(result.keyedAfterRows).toBe(4)
    await expectExactCopy()
    // The foreign keys hold on the replica (checks on).
    const conn = await sandbox.replica.server.connectAsRoot()
    try {
      await expect(conn.query('INSERT INTO keyed.child VALUES (100000, 4)')).rejects.toMatchObject({errno: 1452})
      await expect(conn.query('INSERT INTO keyed.big_child (id, sp) VALUES (100000, 999)')).rejects.toMatchObject({errno: 1452})
    } finally {
      await conn.end()
    }
  })

  it('a copy stopped before its builds gets the keys on its resume, and only those it lacks', async () => {
    await dropReplica()
    const log = memoryLog()
    await copy({log})
    // As if datain had died after the rows of these tables, before (or in the middle of) their builds.
    await sandbox.replica.server.execute(['ALTER TABLE bench.sbtest1 DROP INDEX k_1', 'ALTER TABLE keyed.wide DROP INDEX `k``tick`, DROP INDEX `by b, a`, DROP INDEX k_ignored'])
    const resumed = await copy({resume: log.record})
    expect(resumed.keptChunks).toBe(resumed.chunks)
    expect(resumed.keyedAfterRows).toBe(2)
    await expectExactCopy()
  })

  it('a build held by a lock on the replica fails within the stall bound, saying which table, and the resume finishes it', async () => {
    await dropReplica()
    const log = memoryLog()
    const previous = process.env.DATAIN_STALL_TIMEOUT
    process.env.DATAIN_STALL_TIMEOUT = '2'
    const holder = await sandbox.replica.server.connectAsRoot()
    try {
      const copying = copy({log, threads: 1})
      copying.catch(() => {})
      // An open transaction that has read the table holds a metadata lock the build must wait for.
      for (let i = 0; i < 2000; i++) {
        const [row] = (await holder.query("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'bench' AND TABLE_NAME = 'sbtest1'")) as Array<{n: bigint}>
        if (Number(row!.n) > 0) break
        await sleep(5)
      }
      await holder.query('START TRANSACTION')
      await holder.query('SELECT id FROM bench.sbtest1 LIMIT 1')
      const started = Date.now()
      await expect(copying).rejects.toMatchObject({code: 'E_SNAPSHOT_LOAD', message: expect.stringContaining('Adding the indexes of the table bench.sbtest1 on the replica, after its rows, failed: Lock wait timeout')})
      expect(Date.now() - started).toBeLessThan(30_000)
    } finally {
      await holder.query('ROLLBACK').catch(() => {})
      await holder.end()
      if (previous === undefined) delete process.env.DATAIN_STALL_TIMEOUT
      else process.env.DATAIN_STALL_TIMEOUT = previous
    }
    const resumed = await copy({resume: log.compacted ?? log.record})
    expect(resumed.keyedAfterRows).toBeGreaterThanOrEqual(1)
    await expectExactCopy()
  })

  it('a key that appeared after the build looked (an earlier run\'s build finishing, 1061) is not a failure: the others are added', async () => {
    await dropReplica()
    await copy()
    const ddl = (await sandbox.source.server.query<Array<Record<string, string>>>('SHOW CREATE TABLE keyed.wide'))[0]!['Create Table']!
    await sandbox.replica.server.execute(['ALTER TABLE keyed.wide DROP INDEX `k``tick`, DROP INDEX `by b, a`, DROP INDEX k_ignored'])
    const sessions: Array<Awaited<ReturnType<typeof connectTo>>> = []
    const builds = new KeyBuilds({
      open: async () => {
        const session = await connectTo('replica', replica)
        sessions.push(session)
        return session
      },
      sessions: 1,
      deferNew: true,
    })
    try {
      // Registered as created without its keys (no look at the replica first), one of which is there already.
      const create = builds.definitionFor({database: 'keyed', name: 'wide', columns: [], primaryKey: ['id'], estimatedRows: 1, estimatedBytes: 1 << 30}, ddl)
      expect(create).not.toContain('KEY `by b, a`')
      await sandbox.replica.server.execute(["ALTER TABLE keyed.wide ADD KEY `by b, a` (b(10), a DESC) COMMENT 'a ''quoted'' KEY `x` (y),'"])
      await builds.finish()
      expect(builds.built).toBe(1)
    } finally {
      await Promise.all(sessions.map((s) => s.end()))
    }
    await expectExactCopy()
  })

  it('a replica-wide max_statement_time does not end a build after the rows are in: its session lifts it for itself', async () => {
    await dropReplica()
    const [row] = await sandbox.source.server.query<Array<Record<string, string>>>('SHOW CREATE TABLE bench.sbtest1')
    const ddl = row!['Create Table']!
    const builds = new KeyBuilds({open: () => connectTo('replica', replica), sessions: 1, deferNew: true, minBytes: 0})
    const table = {database: 'bench', name: 'sbtest1', estimatedBytes: 1} as TableInfo
    const create = builds.definitionFor(table, ddl)
    expect(create).not.toContain('KEY `k_1`')
    await sandbox.replica.server.execute([
      'CREATE DATABASE bench',
      `USE bench`,
      create,
      "INSERT INTO bench.sbtest1 (id, k, c, pad) SELECT seq, seq % 5000, REPEAT(CHAR(97 + seq % 26), 120), REPEAT('p', 60) FROM seq_1_to_200000",
      'SET GLOBAL max_statement_time = 0.02',
    ])
    try {
      // What a session of the server's defaults gets: the build is ended half-way.
      const plain = await connectTo('replica', replica)
      await expect(plain.query('ALTER TABLE bench.sbtest1 ADD KEY probe (c(20), k), ALGORITHM=DEFAULT')).rejects.toMatchObject({errno: expect.any(Number)})
      await plain.end()
      builds.start(table)
      await builds.finish()
      expect(builds.built).toBe(1)
    } finally {
      await sandbox.replica.server.execute(['SET GLOBAL max_statement_time = 0'])
    }
    const [copied] = await sandbox.replica.server.query<Array<Record<string, string>>>('SHOW CREATE TABLE bench.sbtest1')
    expect(copied!['Create Table']!.replace(/ AUTO_INCREMENT=\d+/, '')).toBe(ddl.replace(/ AUTO_INCREMENT=\d+/, ''))
  })

  it('creates with its keys a table a FOREIGN KEY references, and every table once a FOREIGN KEY cannot be read; a REFERENCES in a string or comment changes nothing', async () => {
    const ddl = (await sandbox.source.server.query<Array<Record<string, string>>>('SHOW CREATE TABLE keyed.wide'))[0]!['Create Table']!
    const large = (name: string) => ({database: 'keyed', name, columns: [], primaryKey: ['id'], estimatedRows: 1, estimatedBytes: 1 << 30})
    // No build runs here: a session asked for would fail the test.
    const builds = () => new KeyBuilds({open: () => Promise.reject(new Error('no session was to be opened')), sessions: 1, deferNew: true})
    const child = (item: string) => `CREATE TABLE \`child\` (\n  \`id\` int(11) NOT NULL,\n  \`w\` int(11) DEFAULT NULL,\n  PRIMARY KEY (\`id\`),\n  ${item}\n) ENGINE=InnoDB`

    const referenced = builds()
    await referenced.scan([{database: 'keyed', name: 'child'}], [child('CONSTRAINT `f` FOREIGN KEY (`w`) REFERENCES `wide` (`a`)')])
    expect(referenced.definitionFor(large('wide'), ddl)).toBe(ddl)
    expect(referenced.definitionFor(large('other'), ddl)).not.toBe(ddl)

    const unreadable = builds()
    await unreadable.scan([{database: 'keyed', name: 'child'}], [child('CONSTRAINT `f` FOREIGN KEY (`w`) REFERENCES `wide` (`a`) ON FIRE')])
    expect(unreadable.definitionFor(large('other'), ddl)).toBe(ddl)

    const mentioned = builds()
    await mentioned.scan(
      [{database: 'keyed', name: 'child'}],
      [child("KEY `REFERENCES ``wide``` (`w`) COMMENT 'REFERENCES `wide` (`a`) /* FOREIGN KEY */'").replace(') ENGINE=InnoDB', ") ENGINE=InnoDB COMMENT='REFERENCES `wide`'")],
    )
    expect(mentioned.definitionFor(large('wide'), ddl)).not.toBe(ddl)
  })
})

