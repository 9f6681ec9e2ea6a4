import mariadb, {type Connection} from 'mariadb'
import {readFileSync} from 'node:fs'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {replicaProcedureStatements} from '../../sandbox/replica-procedures.js'
import type {Sandbox} from '../../sandbox/sandbox.js'
import {DatainError} from '../../src/lib/errors.js'
import {linkStep, type LinkOutput} from '../../src/steps/link.js'
import {profileFilesText, runStep} from '../helpers/step-context.js'
import {
  REPLICATION_PASSWORD,
  REPLICATION_USER,
  replicaVariable,
  resetServers,
  rootSlaveStatus,
  snapshotByHand,
  startReplicationSandbox,
  stepContext,
  type ReplicationTestContext,
  waitFor,
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

async function snapshot(dbs: string[], extra: string[] = []) {
  databases.push(...dbs, ...extra)
  return snapshotByHand(sandbox, dbs, extra)
}

const gtidSlavePos = async () => replicaVariable(sandbox, 'gtid_slave_pos')

describe('link in GTID mode over TLS', () => {
  it('points the replica at the source from the snapshot GTID with the CA, and running it again changes nothing', async () => {
    const snap = await snapshot(['link_gtid'])
    const ctx = await context({snapshot: snap})
    const first = (await runStep(ctx, linkStep)) as LinkOutput
    expect(first).toEqual({
      procedureSchema: 'mysql',
      mode: 'gtid',
      gtidPosition: snap.gtidPosition,
      sourceHost: '127.0.0.1',
      sourcePort: sandbox.source.port,
      sourceUser: REPLICATION_USER,
      tls: true,
      parametersChanged: [],
      action: 'linked',
    })
    const status = (await rootSlaveStatus(sandbox))!
    expect(status).toMatchObject({
      Master_Host: '127.0.0.1',
      Master_User: REPLICATION_USER,
      Using_Gtid: 'Slave_Pos',
      Master_SSL_Allowed: 'Yes',
      Master_SSL_Verify_Server_Cert: 'Yes',
      Slave_IO_Running: 'No',
      Slave_SQL_Running: 'No',
    })
    expect(Number(status.Master_Port)).toBe(sandbox.source.port)
    expect(await gtidSlavePos()).toBe(snap.gtidPosition)

    expect((await ctx.store.readCheckpoint()).steps.link).toMatchObject({state: 'done', output: first})

    // Again, as after a crash before the checkpoint: the same call with the same coordinates.
    const second = (await runStep(ctx, linkStep, {state: 'running', startedAt: new Date().toISOString()})) as LinkOutput
    expect(second).toEqual(first)
    expect(await gtidSlavePos()).toBe(snap.gtidPosition)
    expect((await rootSlaveStatus(sandbox))!.Master_User).toBe(REPLICATION_USER)
  })

  it('keeps a link that has already applied past the snapshot (no rewind), and leaves running replication alone', async () => {
    const snap = await snapshot(['link_keep'])
    const ctx = await context({snapshot: snap})
    await linkStep.run(ctx)
    await sandbox.replica.server.execute(['START SLAVE'])
    await sandbox.source.server.execute(["INSERT INTO link_keep.t VALUES (1, 'one'), (2, 'two')"])
    await waitFor(async () => (await sandbox.replica.server.query<Array<{n: bigint}>>('SELECT COUNT(*) AS n FROM link_keep.t'))[0]!.n === 2n, 20_000, 'rows')

    const running = (await linkStep.run(ctx)) as LinkOutput
    expect(running.action).toBe('running')
    expect(ctx.lines.at(-1)).toContain('already replicates')

    await sandbox.replica.server.execute(['STOP SLAVE'])
    const applied = await gtidSlavePos()
    expect(applied).not.toBe(snap.gtidPosition)
    const kept = (await linkStep.run(ctx)) as LinkOutput
    expect(kept.action).toBe('kept')
    // Linking again would have set gtid_slave_pos back to the snapshot, and replayed both rows (1062).
    expect(await gtidSlavePos()).toBe(applied)
  })
})

describe('link in file/position mode', () => {
  it('passes the snapshot file and position', async () => {
    const snap = await snapshot(['link_file'])
    const ctx = await context({snapshot: snap, settings: {gtid: false}})
    const out = (await linkStep.run(ctx)) as LinkOutput
    expect(out).toMatchObject({mode: 'file', binlogFile: snap.binlogFile, binlogPosition: snap.binlogPosition, action: 'linked'})
    expect(out.gtidPosition).toBeUndefined()
    const status = (await rootSlaveStatus(sandbox))!
    expect(status).toMatchObject({Using_Gtid: 'No', Relay_Master_Log_File: snap.binlogFile, Master_SSL_Allowed: 'Yes'})
    expect(Number(status.Exec_Master_Log_Pos)).toBe(snap.binlogPosition)
    expect(((await linkStep.run(ctx)) as LinkOutput).action).toBe('linked')
  })
})

describe('a subset of databases', () => {
  it('sets replicate_wild_ignore_table through ARM before linking, to the databases not copied', async () => {
    const snap = await snapshot(['sub_app'], ['sub_other', 'sub_more'])
    const ctx = await context({snapshot: snap, settings: {databases: ['sub_app']}})
    const out = (await linkStep.run(ctx)) as LinkOutput
    const value = 'sub\\_more.%,sub\\_other.%'
    expect(out.filter).toEqual({parameter: 'replicate_wild_ignore_table', value, ignored: ['sub_more', 'sub_other']})
    expect(out.parametersChanged).toEqual([{name: 'replicate_wild_ignore_table', previous: '', value, changedByDatain: true}])
    expect(await replicaVariable(sandbox, 'replicate_wild_ignore_table')).toBe(value)
    expect(ctx.lines.join('\n')).toContain('replicate_wild_ignore_table')

    const plan = await linkStep.plan(ctx)
    const arm = plan.find((a) => a.kind === 'arm')
    expect(arm?.text).toMatch(/^PUT https:\/\/.*\/configurations\/replicate_wild_ignore_table\?api-version=2018-06-01 /)
    expect(arm?.text).toContain(JSON.stringify({properties: {value, source: 'user-override'}}))

    // A rerun keeps the first run's record of what the parameter was before datain.
    const again = (await linkStep.run({...ctx, previous: {state: 'running', startedAt: new Date().toISOString(), output: out}})) as LinkOutput
    expect(again.parametersChanged).toEqual(out.parametersChanged)
  })

  it('stops running replication to put back a filter that went missing, and leaves it for the replicate step to start', async () => {
    const snap = await snapshot(['sub_run'], ['sub_left'])
    const ctx = await context({snapshot: snap, settings: {databases: ['sub_run']}})
    await linkStep.run(ctx)
    await sandbox.replica.server.execute(['STOP SLAVE', "SET GLOBAL replicate_wild_ignore_table = ''", 'START SLAVE'])
    const out = (await linkStep.run(ctx)) as LinkOutput
    expect(out.action).toBe('linked')
    expect(await replicaVariable(sandbox, 'replicate_wild_ignore_table')).toBe('sub\\_left.%')
    expect((await rootSlaveStatus(sandbox))!).toMatchObject({Slave_IO_Running: 'No', Slave_SQL_Running: 'No'})
    expect(ctx.lines.join('\n')).toContain('Stopping replication to set replicate_wild_ignore_table')
  })
})

describe('the replication password', () => {
  it('is a bound parameter: the process list shows ? while the CALL runs, and neither the journal, the output nor the plan holds it', async () => {
    const snap = await snapshot(['secret_pl'])
    await slowDownChangeMaster()
    const ctx = await context({snapshot: snap})
    const seen = new Map<string, string>()
    let done = false
    const running = linkStep.run(ctx).finally(() => (done = true))
    const root = await sandbox.replica.server.connectAsRoot()
    try {
      while (!done) {
        const rows = await root.query<Array<{COMMAND: string; INFO: string}>>(
          "SELECT COMMAND, INFO FROM information_schema.PROCESSLIST WHERE INFO LIKE 'CALL%az\\_replication%' AND ID <> CONNECTION_ID()",
        )
        for (const row of rows) seen.set(row.INFO, row.COMMAND)
      }
      const out = await running
      // Seen executing, not only preparing: a PREPARE always shows `?`, an EXECUTE shows what the server made of the values.
      expect([...seen.values()], JSON.stringify([...seen])).toContain('Execute')
      for (const info of seen.keys()) {
        expect(info).toMatch(/^CALL `mysql`\.`az_replication_change_master_with_gtid`\(\?, \?, \?, \?, \?, \?\)/)
        expect(info).not.toContain(REPLICATION_PASSWORD)
      }

      for (const [file, text] of Object.entries(await profileFilesText(ctx.store))) expect(text, file).not.toContain(REPLICATION_PASSWORD)
      const journal = JSON.stringify(await ctx.store.readJournal())
      expect(journal).toContain('replica-linked')
      expect(journal).toContain(', ***, ')
      expect(journal).not.toContain(REPLICATION_PASSWORD)
      expect(JSON.stringify(out)).not.toContain(REPLICATION_PASSWORD)
      expect(JSON.stringify(await linkStep.plan(ctx))).not.toContain(REPLICATION_PASSWORD)

      // The control: the same call made the plain way (execute(), the session's slow log on) is
      // expanded by the server, and the watch above sees the value.
      expect(await plainCallLeaks(root)).toBe(true)
    } finally {
      await root.end()
    }
  })

  it('is not sent while the general log is on (refused, E_REPLICA_GENERAL_LOG), whatever the run options', async () => {
    const snap = await snapshot(['secret_gl'])
    await sandbox.replica.server.execute(["SET GLOBAL log_output = 'TABLE'", 'TRUNCATE mysql.general_log', 'SET GLOBAL general_log = ON'])
    const ctx = await context({snapshot: snap})
    const error = await linkStep.run(ctx).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DatainError)
    expect(error).toMatchObject({code: 'E_REPLICA_GENERAL_LOG', exitCode: 1})
    expect((error as Error).message).toContain('general_log')
    expect(await rootSlaveStatus(sandbox)).toBeUndefined()
    const logged = await sandbox.replica.server.query<Array<{argument: string}>>('SELECT CONVERT(argument USING utf8mb4) AS argument FROM mysql.general_log')
    expect(logged.length).toBeGreaterThan(0)
    expect(logged.some((r) => r.argument.includes(REPLICATION_PASSWORD))).toBe(false)

    expect((error as Error).message).toContain('No flag overrides this')

    // Neither dangerous choice of `start` lets the password into the log.
    const flagged = await context({snapshot: snap, run: {replaceDatabases: true, takeOverReplica: true}})
    await expect(linkStep.run(flagged)).rejects.toMatchObject({code: 'E_REPLICA_GENERAL_LOG'})
    expect(await rootSlaveStatus(sandbox)).toBeUndefined()
    await sandbox.replica.server.execute(['SET GLOBAL general_log = OFF'])
    const after = await sandbox.replica.server.query<Array<{argument: string}>>('SELECT CONVERT(argument USING utf8mb4) AS argument FROM mysql.general_log')
    expect(after.some((r) => r.argument.includes(REPLICATION_PASSWORD))).toBe(false)
  })

  it('never appears in an error of the procedure, though the connector lists bound values in its own', async () => {
    const snap = await snapshot(['secret_err'])
    // master_host is VARCHAR(255) in the procedure: a longer one fails inside the CALL (error 1406).
    const source = {host: sandbox.source.host, port: sandbox.source.port, user: sandbox.source.user, sslCa: sandbox.source.sslCa}
    const ctx = await context({snapshot: snap, settings: {source: {...source, publicHost: `h${'x'.repeat(300)}.example`}}})
    const error = (await linkStep.run(ctx).catch((e: unknown) => e)) as DatainError
    expect(error).toBeInstanceOf(DatainError)
    expect(error).toMatchObject({code: 'E_PROCEDURE_FAILED', exitCode: 1})
    expect(error.message).toContain('az_replication_change_master_with_gtid')
    expect(error.message).toMatch(/error 1406/)
    for (const text of [error.message, String(error.cause), JSON.stringify(error), JSON.stringify(error.cause), String((error.cause as Error).stack)]) {
      expect(text).not.toContain(REPLICATION_PASSWORD)
    }
  })
})

describe('refusals', () => {
  it('does not take over a link to another source unless this run says --take-over-replica, and the next run does not inherit it', async () => {
    const snap = await snapshot(['foreign'])
    await sandbox.replica.server.execute(["CHANGE MASTER TO MASTER_HOST = '192.0.2.7', MASTER_PORT = 3306, MASTER_USER = 'someone', MASTER_USE_GTID = no"])
    const ctx = await context({snapshot: snap})
    const refused = (await linkStep.run(ctx).catch((e: unknown) => e)) as DatainError
    expect(refused).toMatchObject({code: 'E_REPLICA_LINKED', exitCode: 1, message: expect.stringContaining('192.0.2.7:3306')})
    expect(refused.message).toContain('datain start --profile test --take-over-replica')
    expect(refused.message).not.toContain('--force')
    expect((await rootSlaveStatus(sandbox))!.Master_Host).toBe('192.0.2.7')
    expect((await linkStep.plan(ctx)).map((a) => a.text).join('\n')).toContain('refused (datain start --take-over-replica replaces it)')

    const taking = await context({snapshot: snap, run: {takeOverReplica: true}})
    expect((await linkStep.plan(taking)).map((a) => a.text).join('\n')).toContain('stopped and replaced (--take-over-replica, this run only)')
    expect(((await linkStep.run(taking)) as LinkOutput).action).toBe('linked')
    expect(taking.lines.join('\n')).toContain('--take-over-replica, this run only')
    expect((await rootSlaveStatus(sandbox))!.Master_Host).toBe('127.0.0.1')
  })

  it('needs the snapshot coordinates (E_NO_SNAPSHOT)', async () => {
    const ctx = await context({})
    await expect(linkStep.run(ctx)).rejects.toMatchObject({code: 'E_NO_SNAPSHOT', exitCode: 1})
    // A done snapshot always holds both (its schema says so): an empty one is what is left to refuse.
    const recorded = {databases: [], createdDatabases: [], gtidPosition: '0-1-5', binlogFile: 'binlog.000001', binlogPosition: 4, bytes: 0, rows: 0, seconds: 0}
    const noGtid = await context({settings: {gtid: false}, snapshot: {...recorded, binlogFile: ''}})
    await expect(linkStep.run(noGtid)).rejects.toMatchObject({code: 'E_NO_SNAPSHOT', message: expect.stringContaining('binlog file and position')})
    const garbled = await context({snapshot: {...recorded, gtidPosition: 'binlog.000001:4'}})
    await expect(linkStep.run(garbled)).rejects.toMatchObject({code: 'E_NO_SNAPSHOT', message: expect.stringContaining("'binlog.000001:4'")})
  })
})

describe('plan', () => {
  it('shows the CALL with *** for the password and the CA as <PEM of FILE>', async () => {
    const snap = await snapshot(['plan_db'])
    const ctx = await context({snapshot: snap})
    const plan = await linkStep.plan(ctx)
    const call = plan.find((a) => a.kind === 'sql')!
    expect(call.on).toBe('replica')
    expect(call.text).toContain(
      `CALL \`mysql\`.\`az_replication_change_master_with_gtid\`('127.0.0.1', '${REPLICATION_USER}', ***, ${sandbox.source.port}, '${snap.gtidPosition}', <PEM of ${sandbox.source.sslCa}>)`,
    )
    expect(JSON.stringify(plan)).not.toContain(REPLICATION_PASSWORD)
    expect(plan.some((a) => a.kind === 'arm')).toBe(false)

    const file = await context({settings: {gtid: false}})
    const filePlan = (await linkStep.plan(file)).find((a) => a.kind === 'sql')!
    expect(filePlan.text).toContain("az_replication_change_master`('127.0.0.1', 'datain_repl', ***, ")
    expect(filePlan.text).toContain('<binlog file of the snapshot>, <binlog position of the snapshot>')
    // Nothing was done.
    expect(await rootSlaveStatus(sandbox)).toBeUndefined()
  })
})

/** Makes Azure's GTID procedure spin for a while before its work, so that its CALL can be watched executing. */
async function slowDownChangeMaster(): Promise<void> {
  const statements = replicaProcedureStatements('mysql')
  const create = statements.find((s) => s.includes('PROCEDURE `mysql`.az_replication_change_master_with_gtid('))!
  const original = statements[statements.indexOf(create) - 1]!
  const spinning = create.replace(
    "DECLARE ca_file VARCHAR(1024) DEFAULT '';",
    "DECLARE ca_file VARCHAR(1024) DEFAULT ''; DECLARE spin INT DEFAULT 0; WHILE spin < 1000000 DO SET spin = spin + 1; END WHILE;",
  )
  expect(spinning).not.toBe(create)
  await sandbox.replica.server.execute([original, spinning])
  cleanup.push(() => sandbox.replica.server.execute([original, create]))
}

/** Whether a plain execute() of the GTID procedure, from a session whose slow log is on, shows its password in the process list. */
async function plainCallLeaks(root: Connection): Promise<boolean> {
  const conn = await mariadb.createConnection({
    host: sandbox.replica.host,
    port: sandbox.replica.port,
    user: sandbox.replica.user,
    password: sandbox.replica.password,
    ssl: {ca: readFileSync(sandbox.replica.sslCa, 'utf8')},
  })
  const marker = `control-${Date.now()}`
  try {
    await conn.query('SET SESSION log_slow_query = 1')
    let done = false
    const call = conn
      .execute('CALL mysql.az_replication_change_master_with_gtid(?, ?, ?, ?, ?, ?)', ['127.0.0.1', REPLICATION_USER, marker, sandbox.source.port, '0-1-1', ''])
      .finally(() => (done = true))
    let leaked = false
    while (!done && !leaked) {
      const rows = await root.query<Array<{INFO: string}>>("SELECT INFO FROM information_schema.PROCESSLIST WHERE INFO LIKE 'CALL%' AND ID <> CONNECTION_ID()")
      leaked = rows.some((r) => r.INFO.includes(marker))
    }
    await call
    return leaked
  } finally {
    await conn.end()
  }
}
