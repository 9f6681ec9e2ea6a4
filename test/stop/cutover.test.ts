import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {PLAIN_REPLICA_ADMIN} from '../../sandbox/plain-replica.js'
import {replicaProcedureStatements} from '../../sandbox/replica-procedures.js'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import {TARGETS} from '../helpers/targets.js'
import {checkpoint, dispose, type Env as TargetEnv, expectNoSecrets, expectSameTables, json, replicatingTargetEnv, replicationPassword, slaveStatus, startAppLoad} from './helpers.js'

/** `datain stop --cutover` against the sandbox, for every target: the planned move of an application to the replica. */

type Env = TargetEnv<AnySandbox>

interface ErrorJson {
  error: {code: string; exit: number; message: string}
}

interface CutoverJson {
  action: string
  link: string
  removedNow: boolean
  position: {gtid: string} | null
  cutover: {
    finalPosition: {gtid: string; file: string; position: number}
    replicaPosition: {gtid: string}
    rounds: number
    source: {requested: boolean; locked: boolean; wasReadOnly: boolean; readOnly: boolean; writesBlockedSeconds: number | null}
    eventsEnabled: string[]
    eventScheduler: string
    undo: string | null
    alreadyDone: boolean
    warning: string | null
  }
}

async function readOnly(e: Env): Promise<number> {
  const [row] = await e.sandbox.source.server.query<Array<{v: number}>>('SELECT @@global.read_only AS v')
  return Number(row!.v)
}

/**
 * Makes removing the link fail once the cutover has locked the source, and returns what the failure
 * says and how to undo it: Azure's procedure signals an outage; a plain replica's admin loses RELOAD,
 * which RESET SLAVE ALL needs (after its STOP SLAVE has run: the cutover must start replication again).
 */
async function breakRemoval(e: Env): Promise<{code: string; says: RegExp; undo: () => Promise<void>}> {
  const replica = e.sandbox.replica.server
  if (e.sandbox.target === 'mariadb') {
    const admin = `'${PLAIN_REPLICA_ADMIN}'@'%'`
    await replica.execute([`REVOKE RELOAD ON *.* FROM ${admin}`])
    return {code: 'E_REPLICA_PRIVILEGE', says: /RESET SLAVE ALL.*RELOAD/, undo: () => replica.execute([`GRANT RELOAD ON *.* TO ${admin}`])}
  }
  const procedureSchema = e.sandbox.procedureSchema
  const schema = `\`${procedureSchema}\``
  await replica.execute([
    `DROP PROCEDURE ${schema}.az_replication_remove_master`,
    `CREATE DEFINER=\`azure_superuser\`@\`localhost\` PROCEDURE ${schema}.az_replication_remove_master() SQL SECURITY DEFINER
       BEGIN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'simulated outage'; END`,
  ])
  return {
    code: 'E_PROCEDURE_FAILED',
    says: /simulated outage/,
    async undo() {
      const restore = replicaProcedureStatements(procedureSchema)
      const at = restore.findIndex((st) => st.startsWith(`DROP PROCEDURE IF EXISTS ${schema}.az_replication_remove_master`))
      await replica.execute(restore.slice(at, at + 2))
    },
  }
}

describe.each(TARGETS)('datain stop --cutover under a write load (GTID mode): the source fenced by default, --target %s', (target) => {
  let e: Env
  beforeAll(async () => {
    e = await replicatingTargetEnv(target)
  })
  afterAll(() => dispose(e))

  it('gives up with exit 5 when the replica does not catch up within --timeout; the link stays', async () => {
    // A table lock on the replica holds its SQL thread back.
    const blocker = await e.sandbox.replica.server.connectAsRoot()
    try {
      await blocker.query('LOCK TABLES shop.daily_sales WRITE')
      await e.sandbox.source.server.query("INSERT INTO shop.daily_sales (day, order_count, revenue) VALUES ('2034-01-01', 1, 1)")
      const lagging = await json<ErrorJson>(e, ['stop', '--cutover', '--lock-source', '--timeout', '2'], 5)
      expect(lagging.error.code).toBe('E_REPLICATION_LAGGING')
      expect(lagging.error.message).toMatch(/did not catch up .* within 2 s/)
    } finally {
      await blocker.query('UNLOCK TABLES')
      await blocker.end()
    }
    expect(await readOnly(e)).toBe(0)
    const status = await slaveStatus(e)
    expect([status?.Slave_IO_Running, status?.Slave_SQL_Running]).toEqual(['Yes', 'Yes'])
  })

  it('puts the source back (writable, replicating) when the cutover fails after locking it', async () => {
    const broken = await breakRemoval(e)
    try {
      const failed = await json<ErrorJson>(e, ['stop', '--cutover', '--lock-source'], 1)
      expect(failed.error.code).toBe(broken.code)
      expect(failed.error.message).toMatch(broken.says)
      expect(failed.error.message).toMatch(/writable again/)
    } finally {
      await broken.undo()
    }
    expect(await readOnly(e)).toBe(0)
    const status = await slaveStatus(e)
    expect([status?.Slave_IO_Running, status?.Slave_SQL_Running]).toEqual(['Yes', 'Yes'])
    expect((await checkpoint(e)).stop.removed).toBeUndefined()
  })

  it('--verify: a replica that differs keeps its link and the source stays writable; without --cutover it is a usage error', async () => {
    expect((await json<ErrorJson>(e, ['stop', '--verify'], 2)).error.code).toBe('E_CUTOVER_ONLY_FLAG')
    // A row on the replica that replication never brought.
    await e.sandbox.replica.server.execute(['SET SESSION sql_log_bin = 0', "INSERT INTO shop.daily_sales (day, order_count, revenue) VALUES ('2035-05-05', 1, 1)"])
    try {
      const differs = await json<ErrorJson>(e, ['stop', '--cutover', '--verify'], 1)
      expect(differs.error.code).toBe('E_CUTOVER_DIFFERS')
      expect(differs.error.message).toMatch(/1 row in shop\.daily_sales/)
      expect(differs.error.message).toMatch(/link stays in place/)
    } finally {
      await e.sandbox.replica.server.execute(['SET SESSION sql_log_bin = 0', "DELETE FROM shop.daily_sales WHERE day = '2035-05-05'"])
    }
    expect(await readOnly(e)).toBe(0)
    const status = await slaveStatus(e)
    expect([status?.Slave_IO_Running, status?.Slave_SQL_Running]).toEqual(['Yes', 'Yes'])
    expect((await checkpoint(e)).stop.removed).toBeUndefined()
  })

  it('blocks writes, waits until the replica has everything, removes the link: no row lost, events enabled', async () => {
    const load = await startAppLoad(e)
    while ((await Promise.race([load.done.then(() => -1), new Promise<number>((r) => setTimeout(() => r(0), 300))])) === 0) {
      const [row] = await e.sandbox.source.server.query<Array<{n: number}>>('SELECT COUNT(*) AS n FROM shop.app_writes')
      if (Number(row!.n) >= 100) break
    }
    // No flag: the cutover fences the source by default; --verify compares the replica first, under the load until the fence.
    const cut = await json<CutoverJson>(e, ['stop', '--cutover', '--verify'])
    const {committed, refusedByReadOnly} = await Promise.race([
      load.done,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the load did not end at read_only')), 10_000)),
    ])
    expect(refusedByReadOnly).toBe(true)
    expect(committed).toBeGreaterThan(100)

    expect(cut).toMatchObject({action: 'cutover', link: 'removed', removedNow: true})
    expect(cut.cutover.source).toMatchObject({requested: true, locked: true, wasReadOnly: false, readOnly: true})
    expect(cut.cutover.source.writesBlockedSeconds).toBeGreaterThan(0)
    expect(cut.cutover.source.writesBlockedSeconds).toBeLessThan(60)
    expect(cut.cutover.undo).toBe('SET GLOBAL read_only = OFF')
    const [{pos}] = (await e.sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
    expect(cut.cutover.finalPosition.gtid).toBe(pos)
    expect(cut.cutover.replicaPosition.gtid).toBe(pos)
    expect(cut.position?.gtid).toBe(pos)

    // The replica stands alone with every row the source committed, the application's last one included.
    expect(await slaveStatus(e)).toBeUndefined()
    expect(await readOnly(e)).toBe(1)
    await expectSameTables(e)
    const [last] = await e.sandbox.replica.server.query<Array<{n: number}>>('SELECT COUNT(*) AS n FROM shop.app_writes')
    expect(Number(last!.n)).toBeGreaterThan(0)

    expect(cut.cutover.eventsEnabled).toEqual(['shop.roll_up_daily_sales'])
    const events = await e.sandbox.replica.server.query<Array<{STATUS: string}>>("SELECT STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'shop'")
    expect(events.map((ev) => ev.STATUS)).toEqual(['ENABLED'])
    expect((await checkpoint(e)).stop.removed).toMatchObject({state: 'done', output: {via: 'cutover'}})
    // Recorded before the SET, and settled as kept on purpose once the link was removed.
    expect((await checkpoint(e)).stop['source-read-only']).toMatchObject({state: 'done', output: {previous: 'OFF', outcome: 'kept'}})
  })

  it('is safe to repeat; datain start then refuses', async () => {
    const secret = await replicationPassword(e)
    const again = await e.run(['stop', '--cutover'])
    expect(again.exitCode, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/cutover .* was done at/)
    expect(again.stdout).toMatch(/SET GLOBAL read_only = OFF/)
    const start = await json<ErrorJson>(e, ['start'], 2)
    expect(start.error.code).toBe('E_LINK_REMOVED')
    expect(start.error.message).toMatch(/cut over/)

    // The cleanup works on the read-only source (datain's user holds READ_ONLY ADMIN) and closes datain's
    // firewall rule (Azure; a plain replica has none); a repeated cutover still answers from the checkpoint, without the replica.
    const cleanup = await json<{cleanup: {replicationUser: {action: string}; firewallRules: {deleted: string[]}}}>(e, ['stop', '--cleanup'])
    expect(cleanup.cleanup.replicationUser.action).toBe('dropped')
    expect(cleanup.cleanup.firewallRules.deleted).toEqual(target === 'mariadb' ? [] : ['datain-default-client'])
    expect((await json<CutoverJson>(e, ['stop', '--cutover'])).cutover).toMatchObject({alreadyDone: true, eventsEnabled: ['shop.roll_up_daily_sales']})
    await e.sandbox.source.server.query('SET GLOBAL read_only = OFF')
    expectNoSecrets(e, [secret])
  })
})

describe.each(TARGETS)('datain stop --cutover --cleanup in binlog file/position mode, --target %s', (target) => {
  let e: Env
  beforeAll(async () => {
    e = await replicatingTargetEnv(target, {sampleRows: 200}, ['--no-gtid'])
  })
  afterAll(() => dispose(e))

  it('stops and starts again, then cuts over at the source position and puts sync_master_info back', async () => {
    const sync = async () =>
      (await e.sandbox.replica.server.query<Array<{m: number; r: number}>>('SELECT @@global.sync_master_info AS m, @@global.sync_relay_log_info AS r'))[0]!
    expect([Number((await sync()).m), Number((await sync()).r)]).toEqual([1, 1])
    expect((await json<{stoppedNow: boolean}>(e, ['stop'])).stoppedNow).toBe(true)
    await e.sandbox.source.server.query("INSERT INTO shop.daily_sales (day, order_count, revenue) VALUES ('2033-01-01', 3, 30)")
    expect((await e.run(['start'])).exitCode).toBe(0)
    await e.sandbox.source.server.query("UPDATE shop.daily_sales SET revenue = 33 WHERE day = '2033-01-01'")

    const secret = await replicationPassword(e)
    // --no-lock-source: for a DBA who stopped the application; the output says what the replica may lack.
    const run = await e.run(['stop', '--cutover', '--no-lock-source', '--cleanup', '--json'])
    expect(run.exitCode, run.stderr).toBe(0)
    const cut = JSON.parse(run.stdout) as CutoverJson & {cleanup: {parameters: Array<{name: string; action: string; previous: string}>}}
    expect(cut.cutover.warning).toMatch(/writes made to it after the final position are not on the replica/)
    const again = await e.run(['stop', '--cutover'])
    expect(again.stdout).toMatch(/not made read-only \(--no-lock-source\): writes made to it after the final position are not on the replica/)
    const final = cut.cutover.finalPosition
    expect(cut.cutover.replicaPosition).toMatchObject({file: final.file, position: final.position})
    // After the final position the source logged only the cleanup's DROP USER: the replica missed nothing.
    const after = await e.sandbox.source.server.query<Array<{Event_type: string; Info: string}>>(`SHOW BINLOG EVENTS IN '${final.file}' FROM ${final.position}`)
    expect(after.filter((ev) => ev.Event_type === 'Query').map((ev) => ev.Info)).toEqual([expect.stringMatching(/^DROP USER IF EXISTS 'datain_repl'@'%'/)])
    expect(cut.cutover.source).toMatchObject({requested: false, locked: false, writesBlockedSeconds: null})
    expect(cut.cutover.undo).toBeNull()
    expect(await slaveStatus(e)).toBeUndefined()
    expect(await readOnly(e)).toBe(0)
    await expectSameTables(e)

    const restored = Object.fromEntries(cut.cleanup.parameters.map((p) => [p.name, p]))
    expect(restored.sync_master_info).toMatchObject({action: 'restored', previous: '10000'})
    expect(restored.sync_relay_log_info).toMatchObject({action: 'restored', previous: '10000'})
    expect([Number((await sync()).m), Number((await sync()).r)]).toEqual([10000, 10000])
    expectNoSecrets(e, [secret])
  })
})
