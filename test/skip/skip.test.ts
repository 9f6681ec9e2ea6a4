import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import {TARGETS} from '../helpers/targets.js'
import {dispose, type Env as TargetEnv, expectIdentical, expectNoSecrets, json, journal, replicatingTargetEnv, replicationPassword, slaveStatus, waitUntil} from '../stop/helpers.js'

type Env = TargetEnv<AnySandbox>

/** `datain skip` against the sandbox, for every target: replication broken by a row written on the replica. */

interface ErrorJson {
  error: {code: string; exit: number; message: string}
}

interface SkipJson {
  skipped: {errno: number; error: string; gtid: string | null; sourceFile: string; events: Array<{type: string; info: string}> | null}
  statement: string
  after: {sqlRunning: boolean; gtidSlavePos: string}
}

/** A row on the replica only (not binlogged there), then the same key inserted on the source: error 1062. */
async function conflict(e: Env, day: string): Promise<void> {
  const conn = await e.sandbox.replica.server.connectAsRoot()
  try {
    await conn.query('SET SESSION sql_log_bin = 0')
    await conn.query('INSERT INTO shop.daily_sales (day, order_count, revenue) VALUES (?, 1, 1)', [day])
  } finally {
    await conn.end()
  }
  await e.sandbox.source.server.query('INSERT INTO shop.daily_sales (day, order_count, revenue) VALUES (?, 5, 50)', [day])
}

async function sqlErrno(e: Env): Promise<number> {
  return Number((await slaveStatus(e))?.Last_SQL_Errno ?? 0)
}

describe.each(TARGETS)('datain skip, --target %s', (target) => {
  let e: Env
  beforeAll(async () => {
    // MariaDB 10.11 lets only SUPER set sql_slave_skip_counter: a DBA who wants datain skip grants it.
    e = await replicatingTargetEnv(target, target === 'mariadb' ? {replica: {superAdmin: true}} : {})
  })
  afterAll(() => dispose(e))

  it('refuses when the SQL thread runs: nothing to skip (exit 2)', async () => {
    const refused = await json<ErrorJson>(e, ['skip', '--yes'], 2)
    expect(refused.error.code).toBe('E_NOTHING_TO_SKIP')
  })

  it('shows the failing transaction, asks (exit 2 without a terminal), skips it with --yes and records it', async () => {
    await conflict(e, '2032-03-03')
    await waitUntil(async () => (await sqlErrno(e)) === 1062)

    // A cutover refuses broken replication, before it touches the source.
    const cutover = await json<ErrorJson>(e, ['stop', '--cutover', '--lock-source'], 3)
    expect(cutover.error.code).toBe('E_REPLICATION_BROKEN')
    const [ro] = await e.sandbox.source.server.query<Array<{v: number}>>('SELECT @@global.read_only AS v')
    expect(Number(ro!.v)).toBe(0)

    const asked = await e.run(['skip'])
    expect(asked.exitCode).toBe(2)
    expect(asked.stderr).toMatch(/Duplicate entry '2032-03-03'/)
    expect(asked.stderr).toMatch(/Write_rows/)
    expect(asked.stderr).toMatch(/INSERT INTO shop\.daily_sales/)
    expect(asked.stderr).toMatch(/--yes/)
    expect(await sqlErrno(e)).toBe(1062)
    expect((await journal(e)).some((j) => j.event === 'replication-skip')).toBe(false)

    const skipped = await json<SkipJson>(e, ['skip', '--yes'])
    expect(skipped.skipped.errno).toBe(1062)
    expect(skipped.skipped.gtid).toMatch(/^0-1-\d+$/)
    expect(skipped.skipped.events?.map((ev) => ev.type)).toEqual(expect.arrayContaining(['Gtid', 'Table_map', 'Write_rows_v1', 'Xid']))
    expect(skipped.statement).toMatch(target === 'mariadb' ? /^SET GLOBAL sql_slave_skip_counter = 1; START SLAVE$/ : /az_replication_skip_counter/)
    expect(skipped.after.sqlRunning).toBe(true)
    expect(skipped.after.gtidSlavePos).toContain(skipped.skipped.gtid)
    const entry = (await journal(e)).find((j) => j.event === 'replication-skip')
    expect(entry).toMatchObject({gtid: skipped.skipped.gtid, errno: 1062})

    // The replica kept its own row; the source's delete removes both, and replication goes on.
    await e.sandbox.source.server.query("DELETE FROM shop.daily_sales WHERE day = '2032-03-03'")
    await expectIdentical(e)
    expect((await json<ErrorJson>(e, ['skip', '--yes'], 2)).error.code).toBe('E_NOTHING_TO_SKIP')
  })

  it('stops with exit 3 when the next transaction fails too; the second skip gets replication going', async () => {
    await conflict(e, '2032-04-01')
    await conflict(e, '2032-04-02')
    await waitUntil(async () => (await sqlErrno(e)) === 1062)
    const again = await json<ErrorJson>(e, ['skip', '--yes'], 3)
    expect(again.error.code).toBe('E_REPLICATION_BROKEN')
    expect(again.error.message).toMatch(/stopped again/)
    await waitUntil(async () => (await sqlErrno(e)) === 1062)
    const second = await json<SkipJson>(e, ['skip', '--yes'])
    expect(second.after.sqlRunning).toBe(true)
    expect((await journal(e)).filter((j) => j.event === 'replication-skip')).toHaveLength(3)
    await e.sandbox.source.server.query("DELETE FROM shop.daily_sales WHERE day >= '2032-04-01'")
    await expectIdentical(e)
    expectNoSecrets(e, [await replicationPassword(e)])
  })
})
