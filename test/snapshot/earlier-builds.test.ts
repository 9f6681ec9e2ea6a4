import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Sandbox} from '../../sandbox/sandbox.js'
import {connectTo, type ServerAddress} from '../../src/lib/mariadb.js'
import {addKeysStatement} from '../../src/snapshot/parallel/deferred-keys.js'
import {alteredTable, waitForEarlierBuilds} from '../../src/snapshot/parallel/earlier-builds.js'
import {startCopySandbox} from '../helpers/copy-sandbox.js'

/**
 * A resume waits for the index builds an earlier, killed run left running on the replica (the
 * server runs a statement to its end without its client), before it opens the source's snapshot;
 * and no longer than such a build may take.
 */

let sandbox: Sandbox
let replica: ServerAddress

beforeAll(async () => {
  ;({sandbox, replica} = await startCopySandbox())
  await sandbox.replica.server.execute([
    'CREATE DATABASE `we``ird.db`',
    'CREATE TABLE `we``ird.db`.`t.1` (id INT NOT NULL PRIMARY KEY, c INT NOT NULL) ENGINE=InnoDB',
    'INSERT INTO `we``ird.db`.`t.1` SELECT seq, seq % 7 FROM mysql.seq_1_to_1000',
    'CREATE DATABASE other',
    'CREATE TABLE other.t (id INT NOT NULL PRIMARY KEY, c INT NOT NULL) ENGINE=InnoDB',
  ])
})

afterAll(async () => {
  await sandbox?.stop()
})

const KEYS = [{name: 'k', clause: 'KEY `k` (`c`)'}]

describe('an earlier run\'s index build', () => {
  it('is told from its statement text alone, for any database and table name; other texts are not', () => {
    fc.assert(
      fc.property(fc.string({minLength: 1, maxLength: 20}), fc.string({minLength: 1, maxLength: 20}), (database, name) => {
        expect(alteredTable(addKeysStatement(database, name, KEYS))).toEqual({database, name})
      }),
      {numRuns: 2000},
    )
    for (const text of ['ALTER TABLE `a`.`b` DROP KEY `k`', 'ALTER TABLE a.b ADD KEY k (c)', 'ALTER TABLE `a` ADD KEY `k` (`c`)', 'ALTER TABLE `a`.`b', 'alter table `a`.`b` ADD KEY `k` (`c`)', '']) {
      expect(alteredTable(text), text).toBeUndefined()
    }
  })

  it('is waited for, saying which table, until it ends; another account\'s ALTER or another database\'s is not', async () => {
    const root = await sandbox.replica.server.connectAsRoot()
    const builder = await connectTo('replica', replica)
    const resume = await connectTo('replica', replica)
    try {
      // The metadata lock a LOCK TABLES holds keeps the build waiting, as a long sort would.
      await root.query('LOCK TABLES `we``ird.db`.`t.1` READ, other.t READ')
      const build = builder.query(addKeysStatement('we`ird.db', 't.1', KEYS))
      build.catch(() => {})
      await waitUntil(async () => (await processlistCount(root, 'ALTER TABLE `we``ird.db`%')) === 1)

      // Another database's: not the copy's, not waited for.
      expect(await waitForEarlierBuilds(resume, ['other'], {signal: new AbortController().signal, pollMs: 20})).toBe(0)

      const busy = new Map<number, string>()
      const seen: string[] = []
      const started = Date.now()
      const waiting = waitForEarlierBuilds(resume, ['other', 'we`ird.db'], {signal: new AbortController().signal, busy, pollMs: 20})
      const watching = setInterval(() => seen.push(...busy.values()), 10)
      await new Promise((resolve) => setTimeout(resolve, 800))
      await root.query('UNLOCK TABLES')
      expect(await waiting).toBe(1)
      clearInterval(watching)
      expect(Date.now() - started).toBeGreaterThanOrEqual(750)
      await build
      expect(seen).toContain("we`ird.db.t.1 (an earlier run's index build, waiting for a lock)")
      expect(busy.size).toBe(0)

      // The same statement from another account (root here) is not datain's.
      await root.query('LOCK TABLES other.t READ')
      const otherAccount = await sandbox.replica.server.connectAsRoot()
      const rootsOwn = otherAccount.query(addKeysStatement('other', 't', KEYS))
      await waitUntil(async () => (await processlistCount(root, 'ALTER TABLE `other`%')) === 1)
      expect(await waitForEarlierBuilds(resume, ['other'], {signal: new AbortController().signal, pollMs: 20})).toBe(0)
      await root.query('UNLOCK TABLES')
      await rootsOwn
      await otherAccount.end()
    } finally {
      await root.query('UNLOCK TABLES').catch(() => {})
      await Promise.allSettled([root.end(), builder.end(), resume.end()])
    }
  })

  it('waiting for another session\'s lock longer than the stall bound, or running longer than a build of its size may take, ends the resume, saying what to do; an abort ends the wait', async () => {
    await sandbox.replica.server.execute(['ALTER TABLE `we``ird.db`.`t.1` DROP KEY `k`'])
    const root = await sandbox.replica.server.connectAsRoot()
    const builder = await connectTo('replica', replica)
    const resume = await connectTo('replica', replica)
    try {
      await root.query('LOCK TABLES `we``ird.db`.`t.1` READ')
      const build = builder.query(addKeysStatement('we`ird.db', 't.1', KEYS))
      build.catch(() => {})
      await waitUntil(async () => (await processlistCount(root, 'ALTER TABLE `we``ird.db`%')) === 1)
      const [{id}] = (await root.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE `we``ird.db`%'")) as [{id: number}]

      // Held by another session's lock, not building: no longer than the stall bound.
      const lockedFrom = Date.now()
      await expect(waitForEarlierBuilds(resume, ['we`ird.db'], {signal: new AbortController().signal, pollMs: 20, stallMs: 500})).rejects.toMatchObject({
        code: 'E_SNAPSHOT_STALLED',
        message: expect.stringMatching(/index build of the table we`ird\.db\.t\.1 \(thread \d+ on the replica\) waits for a lock held on the replica by another session.*Look at the replica's process list/),
      })
      expect(Date.now() - lockedFrom).toBeGreaterThanOrEqual(450)
      expect(Date.now() - lockedFrom).toBeLessThan(5000)

      const started = Date.now()
      await expect(waitForEarlierBuilds(resume, ['we`ird.db'], {signal: new AbortController().signal, pollMs: 20, boundMs: () => 1000})).rejects.toMatchObject({
        code: 'E_SNAPSHOT_STALLED',
        exitCode: 1,
        message: expect.stringContaining(`End it with 'KILL ${Number(id)}' on the replica`),
      })
      expect(Date.now() - started).toBeLessThan(5000)

      const abort = new AbortController()
      setTimeout(() => abort.abort(), 200)
      await expect(waitForEarlierBuilds(resume, ['we`ird.db'], {signal: abort.signal, pollMs: 20})).rejects.toMatchObject({code: 'E_INTERRUPTED'})
      await root.query('UNLOCK TABLES')
      await build
    } finally {
      await root.query('UNLOCK TABLES').catch(() => {})
      await Promise.allSettled([root.end(), builder.end(), resume.end()])
    }
  })
})

async function processlistCount(conn: {query: (sql: string, values?: unknown[]) => Promise<unknown>}, like: string): Promise<number> {
  const [row] = (await conn.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND INFO LIKE ?", [like])) as Array<{n: bigint | number}>
  return Number(row!.n)
}

async function waitUntil(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting for the condition')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
