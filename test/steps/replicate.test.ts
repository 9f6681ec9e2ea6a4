import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import type {Sandbox} from '../../sandbox/sandbox.js'
import {DatainError} from '../../src/lib/errors.js'
import {linkStep, type LinkOutput} from '../../src/steps/link.js'
import {createReplicateStep, type ReplicateOutput, replicateStep} from '../../src/steps/replicate.js'
import {runStep} from '../helpers/step-context.js'
import {
  REPLICATION_PASSWORD,
  REPLICATION_USER,
  replicaRows,
  replicaVariable,
  resetServers,
  rootSlaveStatus,
  snapshotByHand,
  startReplicationSandbox,
  stepContext,
  type ReplicationTestContext,
} from '../replication/fixture.js'

let sandbox: Sandbox
const cleanup: Array<() => Promise<void>> = []
let databases: string[] = []

beforeAll(async () => {
  sandbox = await startReplicationSandbox()
})

afterAll(async () => {
  await sandbox?.stop()
})

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
  await resetServers(sandbox, databases)
  databases = []
})

async function context(options: Parameters<typeof stepContext>[1]): Promise<ReplicationTestContext> {
  const ctx = await stepContext(sandbox, options)
  cleanup.push(() => ctx.dispose())
  return ctx
}

/** The snapshot by hand, then the link step: the state the replicate step starts from. */
async function linked(dbs: string[], options: NonNullable<Parameters<typeof stepContext>[1]> & {extra?: string[]} = {}): Promise<ReplicationTestContext> {
  databases.push(...dbs, ...(options.extra ?? []))
  const snapshot = await snapshotByHand(sandbox, dbs, options.extra)
  const ctx = await context({...options, snapshot})
  ctx.outputs = {...ctx.outputs, link: await runStep(ctx, linkStep)}
  return ctx
}

const source = (statements: string[]) => sandbox.source.server.execute(statements)
const fast = createReplicateStep({pollMs: 100, timeoutMs: 60_000})

describe('replicate', () => {
  it('in GTID mode over TLS: starts, waits for the catch-up, and a second run only waits', async () => {
    const ctx = await linked(['rep_gtid'])
    // Written after the coordinates: they reach the replica only through replication.
    await source(["INSERT INTO rep_gtid.t VALUES (1, 'one'), (2, 'two')", "UPDATE rep_gtid.t SET note = 'deux' WHERE id = 2", 'DELETE FROM rep_gtid.t WHERE id = 1'])
    const [{pos: sourceGtid}] = (await sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]

    const out = (await runStep(ctx, fast)) as ReplicateOutput
    expect(out).toMatchObject({mode: 'gtid', alreadyRunning: false, gtidPosition: sourceGtid, parametersChanged: []})
    expect(out.sourcePosition?.gtid).toBe(sourceGtid)
    expect(Date.parse(out.caughtUpAt)).toBeGreaterThanOrEqual(Date.parse(out.startedAt))
    expect(await replicaRows(sandbox, 'rep_gtid')).toEqual([{id: 2, note: 'deux'}])
    const status = (await rootSlaveStatus(sandbox))!
    expect(status).toMatchObject({Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Using_Gtid: 'Slave_Pos', Master_SSL_Allowed: 'Yes'})
    // A progress line only while behind (the start-faults test holds the replica back to see them).
    for (const s of ctx.statuses) expect(s).toMatch(/^Catching up \(\d+ s\): .* behind/)
    expect(JSON.stringify(await ctx.store.readJournal())).toContain('replication-started')

    await source(["INSERT INTO rep_gtid.t VALUES (3, 'three')"])
    const again = (await fast.run(ctx)) as ReplicateOutput
    expect(again.alreadyRunning).toBe(true)
    expect(ctx.lines.join('\n')).toContain('already runs')
    // Said once, in words (it read "caught up (caught up (Seconds_Behind_Master 0 s))", three times on a second run).
    const said = ctx.lines.join('\n')
    expect(said).toMatch(/The replica has caught up with the source( \(Seconds_Behind_Master \d+ s\))?\./)
    expect(said).not.toMatch(/caught up \(caught up/)
    expect(said.match(/caught up with the source/g)).toHaveLength(2)
    expect(ctx.statuses.filter((s) => s.includes('caught up'))).toEqual([])
    expect(await replicaRows(sandbox, 'rep_gtid')).toEqual([
      {id: 2, note: 'deux'},
      {id: 3, note: 'three'},
    ])
  })

  it('in file/position mode over TLS: sets sync_master_info and sync_relay_log_info to 1 through ARM first', async () => {
    const ctx = await linked(['rep_file'], {settings: {gtid: false}})
    await source(["INSERT INTO rep_file.t VALUES (1, 'one'), (2, 'two')"])
    const [master] = await sandbox.source.server.query<Array<{File: string; Position: bigint}>>('SHOW MASTER STATUS')

    const out = (await runStep(ctx, fast)) as ReplicateOutput
    expect(out).toMatchObject({mode: 'file', alreadyRunning: false, binlogFile: master!.File, binlogPosition: Number(master!.Position)})
    expect(out.gtidPosition).toBeUndefined()
    expect(out.parametersChanged).toEqual([
      {name: 'sync_master_info', previous: '10000', value: '1', changedByDatain: true},
      {name: 'sync_relay_log_info', previous: '10000', value: '1', changedByDatain: true},
    ])
    expect(await replicaVariable(sandbox, 'sync_master_info')).toBe('1')
    expect(await replicaVariable(sandbox, 'sync_relay_log_info')).toBe('1')
    expect(await replicaRows(sandbox, 'rep_file')).toEqual([
      {id: 1, note: 'one'},
      {id: 2, note: 'two'},
    ])
    expect((await rootSlaveStatus(sandbox))!).toMatchObject({Using_Gtid: 'No', Master_SSL_Allowed: 'Yes'})

    const plan = await fast.plan(ctx)
    expect(plan.filter((a) => a.kind === 'arm').map((a) => a.text)).toEqual([
      expect.stringMatching(/configurations\/sync_master_info\?api-version=2018-06-01 \{"properties":\{"value":"1","source":"user-override"\}\}/),
      expect.stringMatching(/configurations\/sync_relay_log_info\?/),
    ])
    expect(plan.find((a) => a.kind === 'sql')?.text).toBe('CALL `mysql`.`az_replication_start`()')
  })

  it('with a subset of databases: a write to a database not copied does not break replication', async () => {
    const ctx = await linked(['sub_app'], {settings: {databases: ['sub_app']}, extra: ['sub_other']})
    expect((ctx.outputs.link as LinkOutput).filter?.value).toBe('sub\\_other.%')
    await source(["INSERT INTO sub_other.t VALUES (1, 'not copied')", "INSERT INTO sub_app.t VALUES (1, 'copied')", "UPDATE sub_other.t SET note = 'still not'"])
    const out = (await fast.run(ctx)) as ReplicateOutput
    expect(out.alreadyRunning).toBe(false)
    expect(await replicaRows(sandbox, 'sub_app')).toEqual([{id: 1, note: 'copied'}])
    const status = (await rootSlaveStatus(sandbox))!
    expect(status).toMatchObject({Slave_SQL_Running: 'Yes', Last_SQL_Errno: 0, Replicate_Wild_Ignore_Table: 'sub\\_other.%'})
  })

  it('fails with exit 3, E_REPLICATION_BROKEN, the replica’s 1062 text and a hint when a row written on the replica collides', async () => {
    const ctx = await linked(['rep_dup'])
    await sandbox.replica.server.execute(["INSERT INTO rep_dup.t VALUES (7, 'written on the replica')"])
    await source(["INSERT INTO rep_dup.t VALUES (7, 'from the source')"])
    const error = (await runStep(ctx, fast).catch((e: unknown) => e)) as DatainError
    expect(error).toBeInstanceOf(DatainError)
    expect(error).toMatchObject({code: 'E_REPLICATION_BROKEN', exitCode: 3})
    expect((await ctx.store.readCheckpoint()).steps.replicate).toMatchObject({state: 'failed', error: {code: 'E_REPLICATION_BROKEN'}})
    expect(error.message).toContain('SQL thread')
    expect(error.message).toContain('error 1062')
    expect(error.message).toMatch(/Duplicate entry '7' for key 'PRIMARY'/)
    expect(error.message).toContain('CALL mysql.az_replication_skip_counter')
    expect(error.message).not.toContain(REPLICATION_PASSWORD)
    // Run again: it starts the SQL thread again, which fails on the same row.
    await expect(fast.run(ctx)).rejects.toMatchObject({code: 'E_REPLICATION_BROKEN', message: expect.stringContaining('1062')})
  })

  it('fails with exit 3 and the 1045 hint when the source keeps refusing the replication user', async () => {
    const ctx = await linked(['rep_auth'])
    // The link gives the account the password it links with: only a change made afterwards (by hand) makes the source refuse it.
    await sandbox.source.server.query("ALTER USER ?@'%' IDENTIFIED BY 'Changed-by-hand-1'", [REPLICATION_USER])
    const step = createReplicateStep({pollMs: 100, ioErrorGraceMs: 1500, timeoutMs: 60_000})
    const error = (await step.run(ctx).catch((e: unknown) => e)) as DatainError
    try {
      expect(error).toMatchObject({code: 'E_REPLICATION_BROKEN', exitCode: 3})
    } finally {
      await sandbox.source.server.query("ALTER USER ?@'%' IDENTIFIED BY ?", [REPLICATION_USER, REPLICATION_PASSWORD])
    }
    expect(error).toMatchObject({code: 'E_REPLICATION_BROKEN', exitCode: 3})
    expect(error.message).toContain('IO thread')
    expect(error.message).toContain('error 1045')
    expect(error.message).toContain("refused the replication user's login")
  })

  it('gives up with exit 5 (E_REPLICATION_LAGGING) when the replica does not catch up in time, and stops waiting on abort', async () => {
    const ctx = await linked(['rep_slow'])
    await source(["INSERT INTO rep_slow.t VALUES (1, 'base')"])
    await fast.run(ctx)
    // A transaction on the replica holds the row the next source update needs: the SQL thread waits on its lock.
    const blocker = await sandbox.replica.server.connectAsRoot()
    cleanup.push(async () => {
      await blocker.end()
    })
    await blocker.query('BEGIN')
    await blocker.query('SELECT * FROM rep_slow.t WHERE id = 1 FOR UPDATE')
    await source(["UPDATE rep_slow.t SET note = 'changed' WHERE id = 1"])

    const lagging = (await createReplicateStep({pollMs: 100, timeoutMs: 1500}).run(ctx).catch((e: unknown) => e)) as DatainError
    expect(lagging).toMatchObject({code: 'E_REPLICATION_LAGGING', exitCode: 5})
    expect(lagging.message).toContain('1 transaction behind')

    const abort = new AbortController()
    const waiting = replicateStep.run({...ctx, signal: abort.signal})
    setTimeout(() => abort.abort(), 500)
    await expect(waiting).rejects.toMatchObject({code: 'E_INTERRUPTED'})

    await blocker.query('ROLLBACK')
    const out = (await fast.run(ctx)) as ReplicateOutput
    expect(out.alreadyRunning).toBe(true)
    expect(await replicaRows(sandbox, 'rep_slow')).toEqual([{id: 1, note: 'changed'}])
  })

  it('with --no-arm in file/position mode: stops with the by-hand instruction for sync_master_info, then goes on once it is set', async () => {
    const ctx = await linked(['rep_noarm'], {settings: {gtid: false, azure: {useArm: false}}})
    const error = (await runStep(ctx, fast).catch((e: unknown) => e)) as DatainError
    expect(error).toMatchObject({code: 'E_SERVER_PARAMETER', exitCode: 1})
    expect(error.message).toContain('sync_master_info')
    expect(error.message).toContain('az mariadb server configuration set')
    expect((await rootSlaveStatus(sandbox))!.Slave_SQL_Running).toBe('No')

    await sandbox.replica.server.execute(['SET GLOBAL sync_master_info = 1', 'SET GLOBAL sync_relay_log_info = 1'])
    await source(["INSERT INTO rep_noarm.t VALUES (1, 'one')"])
    const out = (await runStep(ctx, fast)) as ReplicateOutput
    expect(out.parametersChanged?.map((c) => c.changedByDatain)).toEqual([false, false])
    expect(await replicaRows(sandbox, 'rep_noarm')).toEqual([{id: 1, note: 'one'}])
  })

  it('needs a linked replica (E_NOT_LINKED)', async () => {
    const ctx = await context({})
    await expect(fast.run(ctx)).rejects.toMatchObject({code: 'E_NOT_LINKED', exitCode: 1})
  })
})
