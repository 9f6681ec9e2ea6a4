import {execa, type ResultPromise} from 'execa'
import type {Connection} from 'mariadb'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {tableFingerprints} from '../../sandbox/table-fingerprints.js'
import {datain} from '../helpers/datain.js'
import {targetEnv} from '../helpers/targets.js'
import {definitions} from './show-create.js'

/**
 * `datain start` killed with SIGKILL while the replica builds a table's indexes after its rows
 * (ALTER TABLE … ADD KEY, DATAIN_KEYS_AFTER_ROWS_MB=0 so that every table with a primary key goes so),
 * and killed after the rows but before its ALTER could start (held by a lock on the replica). The
 * replica's ALTER outlives the client that sent it; the next start must cope with it running,
 * waiting or finished, and end with the source's tables exactly (rows and SHOW CREATE TABLE) and
 * replication running.
 */

const root = path.resolve(import.meta.dirname, '../..')
const DATABASES = ['kb']
const BIG = 'big'

let sandbox: Sandbox
let home: string
let env: Record<string, string>
let watcher: Connection

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  home = await mkdtemp(path.join(tmpdir(), 'datain-key-kill-'))
  env = {...targetEnv(sandbox, home), DATAIN_KEYS_AFTER_ROWS_MB: '0'}
  await sandbox.source.server.execute([
    'DROP DATABASE IF EXISTS kb',
    'CREATE DATABASE kb',
    // Large enough that its build lasts a while on the replica (several indexes on text).
    `CREATE TABLE kb.${BIG} (id INT NOT NULL PRIMARY KEY, a VARCHAR(64) NOT NULL, b VARCHAR(64) NULL, c INT NOT NULL,
      KEY ix_a (a), KEY ix_ba (b, a), KEY ix_c (c DESC), UNIQUE KEY u_ac (a, c)) ENGINE=InnoDB`,
    `INSERT INTO kb.${BIG} SELECT seq, MD5(seq), IF(seq % 9 = 0, NULL, SHA1(seq)), seq % 1000 FROM kb.seq_1_to_300000`,
    'CREATE TABLE kb.small (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL, KEY ix_v (v)) ENGINE=InnoDB',
    "INSERT INTO kb.small SELECT seq, CONCAT('v', seq % 7) FROM kb.seq_1_to_500",
    'ANALYZE TABLE kb.big, kb.small',
  ])
  watcher = await sandbox.replica.server.connectAsRoot()
  // Its server stops at the end: not an error.
  watcher.on('error', () => {})
}, 300_000)

afterAll(async () => {
  await watcher?.end().catch(() => {})
  await sandbox?.stop()
  if (home) await rm(home, {recursive: true, force: true})
})

async function reset(): Promise<void> {
  await waitForNoBuild()
  await sandbox.replica.server.execute(['STOP ALL SLAVES', "RESET SLAVE '' ALL", 'DROP DATABASE IF EXISTS kb'])
  await sandbox.source.server.execute(["DROP USER IF EXISTS 'datain_repl'@'%'"])
  sandbox.azure.state.firewallRules.clear()
}

/** The replica's ALTER TABLE … ADD KEY of kb.big, if one is in its process list. */
async function buildOnReplica(): Promise<{id: number; state: string} | undefined> {
  const rows = (await watcher.query(
    "SELECT ID AS id, STATE AS state FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE `kb`.`big` ADD %' AND ID <> CONNECTION_ID()",
  )) as Array<{id: bigint; state: string | null}>
  return rows[0] ? {id: Number(rows[0].id), state: rows[0].state ?? ''} : undefined
}

async function waitForNoBuild(): Promise<void> {
  const deadline = Date.now() + 120_000
  while ((await buildOnReplica()) && Date.now() < deadline) await sleep(100)
}

function spawnStart(profile: string): ResultPromise {
  return execa(process.execPath, [path.join(root, 'bin', 'run.js'), 'start', '--profile', profile, '--parallel', '2'], {
    env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env},
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  })
}

/** Polls until `found` returns something, failing if `child` ended first. */
async function until<T>(child: ResultPromise, found: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 180_000
  for (;;) {
    const value = await found()
    if (value !== undefined) return value
    if (child.exitCode !== null) throw new Error(`datain start ended before ${what}: ${String((await child).stderr).slice(-2000)}`)
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

async function kill(child: ResultPromise): Promise<void> {
  child.kill('SIGKILL')
  const result = await child
  expect(result.signal).toBe('SIGKILL')
}

async function snapshotState(profile: string): Promise<string | undefined> {
  const checkpoint = JSON.parse(await readFile(path.join(home, 'profiles', profile, 'checkpoint.json'), 'utf8')) as {steps: Record<string, {state: string}>}
  return checkpoint.steps.snapshot?.state
}

/** Index names of kb.big on the replica. */
async function replicaIndexes(): Promise<string[]> {
  const rows = await sandbox.replica.server.query<Array<{i: string}>>(
    "SELECT DISTINCT INDEX_NAME AS i FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'kb' AND TABLE_NAME = 'big'",
  )
  return rows.map((r) => r.i).sort()
}

async function resume(profile: string, extra: Record<string, string> = {}) {
  return datain(['start', '--profile', profile, '--parallel', '2'], {...env, ...extra})
}

async function expectIdentical(): Promise<void> {
  const [{pos}] = (await sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
  const [row] = await sandbox.replica.server.query<Array<{ok: number | null}>>('SELECT MASTER_GTID_WAIT(?, 60) = 0 AS ok', [pos])
  expect(Number(row?.ok)).toBe(1)
  const expected = await definitions(sandbox.source.server, DATABASES)
  expect(Object.keys(expected).sort()).toEqual(['kb.big', 'kb.small'])
  expect(await definitions(sandbox.replica.server, DATABASES)).toEqual(expected)
  expect(await tableFingerprints(sandbox.replica.server, DATABASES, {extended: true})).toEqual(await tableFingerprints(sandbox.source.server, DATABASES, {extended: true}))
  const [status] = await sandbox.replica.server.query<Array<Record<string, unknown>>>('SHOW SLAVE STATUS')
  expect(status).toMatchObject({Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Last_SQL_Errno: 0})
}

describe('the indexes built after the rows, after kill -9', () => {
  it('killed while the replica runs the ALTER TABLE … ADD KEY: the next start completes, the replica is the source', async () => {
    await reset()
    expect((await datain(['init', '--profile', 'during', '--databases', 'kb'], env)).exitCode).toBe(0)
    const child = spawnStart('during')
    // Building, not waiting for a lock.
    const build = await until(child, async () => {
      const b = await buildOnReplica()
      return b && !/lock/i.test(b.state) ? b : undefined
    }, 'the build of kb.big')
    await kill(child)
    expect(await snapshotState('during')).toBe('running')
    // The replica's ALTER may well go on without its client; the next start runs meanwhile.
    const orphan = await buildOnReplica()
    console.log(`killed during the build (${build.state}); the replica's ALTER ${orphan ? `still runs (${orphan.state})` : 'is gone'}`)

    // Whatever the size setting now: what the earlier run created without its keys gets them.
    const result = await resume('during', {DATAIN_KEYS_AFTER_ROWS_MB: 'off'})
    expect(result.exitCode, result.stderr).toBe(0)
    expect(await replicaIndexes()).toEqual(['PRIMARY', 'ix_a', 'ix_ba', 'ix_c', 'u_ac'].sort())
    await expectIdentical()
  }, 300_000)

  it('killed during the build, started again once the replica finished it: nothing is built twice', async () => {
    await reset()
    expect((await datain(['init', '--profile', 'finished', '--databases', 'kb'], env)).exitCode).toBe(0)
    const child = spawnStart('finished')
    await until(child, async () => {
      const b = await buildOnReplica()
      return b && !/lock/i.test(b.state) ? b : undefined
    }, 'the build of kb.big')
    await kill(child)
    await waitForNoBuild()
    // The ALTER outlived its client and completed on its own.
    expect(await replicaIndexes()).toEqual(['PRIMARY', 'ix_a', 'ix_ba', 'ix_c', 'u_ac'].sort())
    const result = await resume('finished')
    expect(result.exitCode, result.stderr).toBe(0)
    // kb.small's keys may have been built before the kill or not; kb.big's were there.
    expect(result.stderr).not.toMatch(/indexes of [2-9]\d* tables/)
    await expectIdentical()
  }, 300_000)

  it('killed after the rows, before the ALTER could start (a lock held on the replica): the next start waits at most the stall bound, then completes', async () => {
    await reset()
    expect((await datain(['init', '--profile', 'before', '--databases', 'kb'], env)).exitCode).toBe(0)
    const child = spawnStart('before')
    // A session that read the table holds it (a metadata lock) until it ends its transaction:
    // the rows go in meanwhile, the ALTER cannot begin.
    await until(child, async () => {
      const rows = (await watcher.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'kb' AND TABLE_NAME = 'big'")) as unknown[]
      return rows.length > 0 ? true : undefined
    }, 'kb.big on the replica')
    const holder = await sandbox.replica.server.connectAsRoot()
    holder.on('error', () => {})
    try {
      // Read committed: the count below sees the rows loaded since.
      await holder.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED')
      await holder.query('START TRANSACTION')
      await holder.query('SELECT COUNT(*) FROM kb.big')
      const build = await until(child, async () => {
        const b = await buildOnReplica()
        return b && /metadata lock/i.test(b.state) ? b : undefined
      }, 'the ALTER waiting for its lock')
      await kill(child)
      expect(build.state).toMatch(/metadata lock/i)
      expect(await snapshotState('before')).toBe('running')
      // Every row is in, no plain index built (the unique one was created with the table). Counted in the holder's transaction: a new reader would
      // queue behind the ALTER's pending exclusive lock.
      const [count] = (await holder.query('SELECT COUNT(*) AS n FROM kb.big')) as Array<{n: bigint}>
      expect(Number(count!.n)).toBe(300_000)
      expect(await replicaIndexes()).toEqual(['PRIMARY', 'u_ac'])

      // The lock still held: the next start does not wait for ever, and says what holds it.
      const heldSince = Date.now()
      const held = await resume('before', {DATAIN_STALL_TIMEOUT: '3'})
      expect(held.exitCode, held.stderr).toBe(1)
      // The error as one paragraph again (oclif wraps it, each line after a ›).
      const paragraph = held.stderr.replace(/\s*\n\s*›\s+/g, ' ')
      expect(paragraph).toContain('a lock held on the replica')
      expect(paragraph).toContain("Look at the replica's process list, then run 'datain start' again")
      expect(Date.now() - heldSince).toBeLessThan(60_000)
      expect(await snapshotState('before')).not.toBe('done')
    } finally {
      await holder.query('COMMIT').catch(() => {})
      await holder.end().catch(() => {})
    }
    // The lock released: the earlier run's ALTER may now run while the next start looks.
    const result = await resume('before')
    expect(result.exitCode, result.stderr).toBe(0)
    expect(await replicaIndexes()).toEqual(['PRIMARY', 'ix_a', 'ix_ba', 'ix_c', 'u_ac'].sort())
    await expectIdentical()
  }, 300_000)
})
