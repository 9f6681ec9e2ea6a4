import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {RemoveMaster} from '../../sandbox/replica-procedures.js'
import {checkpoint, dispose, type Env, expectSameTables, json, replicatingEnv, slaveStatus} from './helpers.js'

/**
 * Azure documents az_replication_remove_master only as "removes the relationship": it may leave no
 * SHOW SLAVE STATUS row (RESET SLAVE ALL) or the row RESET SLAVE leaves (source host and user kept,
 * positions reset, both threads stopped). datain reads both as "no link" (issue 14): stop --remove,
 * stop --cutover, status and start behave the same under either.
 */

interface ErrorJson {
  error: {code: string; exit: number; message: string}
}

interface StatusJson {
  state: string
}

/** What the procedure leaves on the replica, as its mode says. */
async function expectLeftByRemoval(e: Env, removeMaster: RemoveMaster): Promise<void> {
  const row = await slaveStatus(e)
  if (removeMaster === 'reset-slave-all') {
    expect(row).toBeUndefined()
    return
  }
  expect(row).toMatchObject({Slave_IO_Running: 'No', Slave_SQL_Running: 'No', Master_Log_File: '', Relay_Log_File: ''})
  expect(row?.Master_Host).not.toBe('')
}

async function statusJson(e: Env, exitCode: number): Promise<StatusJson> {
  const result = await e.run(['status', '--json'])
  expect(result.exitCode, result.stderr).toBe(exitCode)
  return JSON.parse(result.stdout) as StatusJson
}

/** start refuses a removed link, and leaves the replica as the removal left it. */
async function expectStartRefused(e: Env, removeMaster: RemoveMaster): Promise<void> {
  expect((await json<ErrorJson>(e, ['start'], 2)).error.code).toBe('E_LINK_REMOVED')
  await expectLeftByRemoval(e, removeMaster)
}

describe.each<RemoveMaster>(['reset-slave-all', 'reset-slave'])('Azure only: az_replication_remove_master running %s', (removeMaster) => {
  const envs: Env[] = []
  afterAll(async () => {
    for (const e of envs) await dispose(e)
  })
  /** A replicating setup on a sandbox whose procedure removes links this way. */
  async function setUp(initArgs: string[] = []): Promise<Env> {
    const e = await replicatingEnv({sampleRows: 30, removeMaster}, initArgs)
    envs.push(e)
    return e
  }

  describe('removed by datain stop --remove', () => {
    let e: Env
    beforeAll(async () => {
      e = await setUp()
    })

    it('removes, records it, and a second --remove is a no-op', async () => {
      expect(await json(e, ['stop', '--remove'])).toMatchObject({action: 'remove', link: 'removed', stoppedNow: true, removedNow: true})
      await expectLeftByRemoval(e, removeMaster)
      expect((await checkpoint(e)).stop.removed).toMatchObject({state: 'done', output: {via: 'remove', linked: true}})
      expect(await json(e, ['stop', '--remove'])).toMatchObject({link: 'removed', stoppedNow: false, removedNow: false})
      expect(await json(e, ['stop'])).toMatchObject({link: 'removed', stoppedNow: false})
    })

    it('status says removed (exit 0); start and --cutover refuse', async () => {
      expect((await statusJson(e, 0)).state).toBe('removed')
      await expectStartRefused(e, removeMaster)
      expect((await json<ErrorJson>(e, ['stop', '--cutover'], 2)).error.code).toBe('E_ALREADY_REMOVED')
    })
  })

  describe('removed by datain stop --cutover (file mode)', () => {
    let e: Env
    beforeAll(async () => {
      e = await setUp(['--no-gtid'])
    })

    it('cuts over, removes the link, and a second run finds it done', async () => {
      await e.sandbox.source.server.query("INSERT INTO shop.daily_sales (day, order_count, revenue) VALUES ('2035-01-01', 1, 1)")
      const cut = await json<{action: string; link: string; removedNow: boolean; cutover: {alreadyDone: boolean}}>(e, ['stop', '--cutover', '--no-lock-source'])
      expect(cut).toMatchObject({action: 'cutover', link: 'removed', removedNow: true, cutover: {alreadyDone: false}})
      await expectLeftByRemoval(e, removeMaster)
      await expectSameTables(e)
      expect((await checkpoint(e)).stop.removed).toMatchObject({state: 'done', output: {via: 'cutover'}})
      expect((await json<{cutover: {alreadyDone: boolean}}>(e, ['stop', '--cutover'])).cutover.alreadyDone).toBe(true)
    })

    it('status says removed (exit 0); start refuses', async () => {
      expect((await statusJson(e, 0)).state).toBe('removed')
      await expectStartRefused(e, removeMaster)
    })
  })

  describe('removed by hand (CALL mysql.az_replication_remove_master)', () => {
    let e: Env
    beforeAll(async () => {
      e = await setUp()
      await e.sandbox.replica.server.query(`CALL \`${e.sandbox.procedureSchema}\`.az_replication_remove_master()`)
    })

    it('status says unlinked (exit 3), not stopped', async () => {
      await expectLeftByRemoval(e, removeMaster)
      expect((await statusJson(e, 3)).state).toBe('unlinked')
    })

    it('stop says the link is gone; stop --remove records it as removed; start then refuses', async () => {
      expect((await json<ErrorJson>(e, ['stop'], 1)).error.code).toBe('E_LINK_GONE')
      expect(await json(e, ['stop', '--remove'])).toMatchObject({link: 'removed', stoppedNow: false, removedNow: false})
      expect((await checkpoint(e)).stop.removed).toMatchObject({state: 'done', output: {via: 'remove', linked: false}})
      expect((await statusJson(e, 0)).state).toBe('removed')
      await expectStartRefused(e, removeMaster)
    })
  })
})
