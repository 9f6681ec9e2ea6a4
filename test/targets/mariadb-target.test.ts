/**
 * The mariadb target's drivers against real servers: the sandbox's source, and its replica reached
 * directly (not through the gateway) as an admin with the replication privileges a DBA would grant,
 * neither root nor SUPER.
 */
import {readFile} from 'node:fs/promises'
import mariadb, {type Connection} from 'mariadb'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Sandbox} from '../../sandbox/sandbox.js'
import {mariadbTarget} from '../../src/targets/mariadb/index.js'
import type {LinkSpec, ReplicationControls} from '../../src/targets/target.js'
import {REPLICATION_PASSWORD, REPLICATION_USER, resetServers, snapshotByHand, startReplicationSandbox, waitFor} from '../replication/fixture.js'

const ADMIN = 'plain_admin'
const ADMIN_PASSWORD = `Adm'"\\${Math.random().toString(36).slice(2, 8)}`
const DB = 'plain_target'

let sandbox: Sandbox
let replica: Connection

beforeAll(async () => {
  sandbox = await startReplicationSandbox()
  await sandbox.replica.server.execute([
    `CREATE USER '${ADMIN}'@'%' IDENTIFIED BY '${ADMIN_PASSWORD.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`,
    `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, RELOAD, REPLICATION SLAVE ADMIN, SLAVE MONITOR, BINLOG MONITOR ON *.* TO '${ADMIN}'@'%'`,
  ])
  replica = await connectAsAdmin()
}, 120_000)

/** A new session of the replica's admin, directly on the server (a global grant counts from the next login). */
async function connectAsAdmin(): Promise<Connection> {
  return mariadb.createConnection({
    host: '127.0.0.1',
    port: sandbox.replica.server.port,
    user: ADMIN,
    password: ADMIN_PASSWORD,
    ssl: {ca: await readFile(sandbox.replica.sslCa, 'utf8')},
  })
}

afterAll(async () => {
  await replica?.end().catch(() => {})
  await sandbox?.stop()
})

const slaveStatus = async () => ((await replica.query('SHOW SLAVE STATUS')) as Array<Record<string, unknown>>)[0]

async function linked(): Promise<{controls: ReplicationControls; spec: LinkSpec}> {
  const snapshot = await snapshotByHand(sandbox, [DB])
  const target = mariadbTarget(async () => replica, {linkSslCa: sandbox.source.sslCa})
  const controls = await target.replication.open(replica, ['link', 'start', 'stop', 'remove', 'skip'])
  const spec: LinkSpec = {
    host: '127.0.0.1',
    port: sandbox.source.port,
    user: REPLICATION_USER,
    position: {mode: 'gtid', gtid: snapshot.gtidPosition},
    sourceTls: true,
    caLabel: '',
  }
  await controls.assertPasswordStaysSecret()
  await controls.link(spec, REPLICATION_PASSWORD)
  return {controls, spec}
}

describe('the mariadb target', () => {
  it.sequential('links with CHANGE MASTER TO over verified TLS from the GTID position, starts, skips a failed transaction, stops and removes the link', async () => {
    const {controls} = await linked()
    await controls.start()
    await sandbox.source.server.query(`INSERT INTO ${DB}.t VALUES (1, 'first')`)
    await waitFor(async () => ((await replica.query(`SELECT COUNT(*) AS n FROM ${DB}.t`)) as Array<{n: bigint}>)[0]!.n === 1n, 20_000, 'the row on the replica')
    const status = await slaveStatus()
    expect([status?.Using_Gtid, status?.Master_SSL_Allowed, status?.Master_SSL_Verify_Server_Cert, status?.Master_User]).toEqual(['Slave_Pos', 'Yes', 'Yes', REPLICATION_USER])

    // A row already on the replica: the source's insert of it stops the SQL thread (1062); skip drops that transaction.
    await replica.query(`INSERT INTO ${DB}.t VALUES (2, 'replica')`)
    await sandbox.source.server.query(`INSERT INTO ${DB}.t VALUES (2, 'source')`)
    await waitFor(async () => (await slaveStatus())?.Last_SQL_Errno === 1062, 20_000, 'error 1062')
    // MariaDB 10.11 lets only SUPER set sql_slave_skip_counter: the refusal says so.
    await expect(controls.skip()).rejects.toMatchObject({code: 'E_REPLICA_PRIVILEGE', message: expect.stringContaining('SUPER')})
    await sandbox.replica.server.query(`GRANT SUPER ON *.* TO '${ADMIN}'@'%'`)
    const withSuper = await connectAsAdmin()
    try {
      await (await mariadbTarget(async () => withSuper, {}).replication.open(withSuper, ['skip'])).skip()
    } finally {
      await withSuper.end()
      await sandbox.replica.server.query(`REVOKE SUPER ON *.* FROM '${ADMIN}'@'%'`)
    }
    await sandbox.source.server.query(`INSERT INTO ${DB}.t VALUES (3, 'after')`)
    await waitFor(async () => ((await replica.query(`SELECT COUNT(*) AS n FROM ${DB}.t`)) as Array<{n: bigint}>)[0]!.n === 3n, 20_000, 'the row after the skip')
    expect(((await replica.query(`SELECT note FROM ${DB}.t WHERE id = 2`)) as Array<{note: string}>)[0]!.note).toBe('replica')

    await controls.stop()
    expect([(await slaveStatus())?.Slave_IO_Running, (await slaveStatus())?.Slave_SQL_Running]).toEqual(['No', 'No'])
    await controls.remove()
    expect(await slaveStatus()).toBeUndefined()
    await resetServers(sandbox, [DB])
  }, 90_000)

  it('refuses to send the password while the general log is on, and the password never reaches it or the slow log', async () => {
    const {controls, spec} = await linked()
    await sandbox.replica.server.execute(["SET GLOBAL log_output = 'TABLE'", 'TRUNCATE mysql.general_log', 'TRUNCATE mysql.slow_log', 'SET GLOBAL general_log = ON'])
    await expect(controls.assertPasswordStaysSecret()).rejects.toMatchObject({code: 'E_REPLICA_GENERAL_LOG'})
    await sandbox.replica.server.execute(['SET GLOBAL general_log = OFF', 'SET GLOBAL long_query_time = 0', 'SET GLOBAL log_slow_query = ON'])
    // A new session, so that it takes the global slow-log settings, with NO_BACKSLASH_ESCAPES for good measure.
    const other = await connectAsAdmin()
    try {
      await other.query("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
      const target = mariadbTarget(async () => other, {})
      await (await target.replication.open(other, ['link'])).link(spec, REPLICATION_PASSWORD)
      // The session's slow log is on again after the link: this lands in it, the CHANGE MASTER TO did not.
      await other.query("SELECT 'slow-log-marker'")
      await controls.start()
      // The password as given (quotes, `$`, a backslash) is the one the IO thread logs in with.
      await waitFor(async () => (await slaveStatus())?.Slave_IO_Running === 'Yes', 20_000, 'the IO thread')
    } finally {
      await other.end()
      await sandbox.replica.server.execute(['SET GLOBAL log_slow_query = OFF', 'SET GLOBAL long_query_time = 10'])
    }
    const logged = await sandbox.replica.server.query<Array<{sql_text: string}>>('SELECT CONVERT(sql_text USING utf8mb4) AS sql_text FROM mysql.slow_log')
    expect(logged.map((r) => r.sql_text).join('\n')).not.toContain(REPLICATION_PASSWORD)
    expect(logged.some((r) => r.sql_text.includes('slow-log-marker'))).toBe(true)
    await controls.stop()
    await resetServers(sandbox, [DB])
  }, 90_000)

  it('sets a server parameter with SET GLOBAL, says the my.cnf line, reads it, and puts back only its own value', async () => {
    // The filter can change only while the replica's threads are stopped (1198), as the link step sees to.
    await sandbox.replica.server.execute(['STOP SLAVE'])
    const target = mariadbTarget(async () => replica, {})
    const said: string[] = []
    const call = {replica: async () => replica, ui: {info: (m: string) => said.push(m)}}
    const change = await target.parameters.ensure(call, 'replicate_wild_ignore_table', 'other.%', 'for the test')
    expect(change).toMatchObject({name: 'replicate_wild_ignore_table', previous: '', value: 'other.%', changedByDatain: true})
    expect(said.join('\n')).toContain('my.cnf')
    expect(await target.parameters.current('replicate_wild_ignore_table')).toBe('other.%')
    expect(await target.parameters.ensure(call, 'replicate_wild_ignore_table', 'other.%')).toMatchObject({changedByDatain: false})
    expect(await target.parameters.restore(call, change)).toBe(true)
    expect(await target.parameters.current('replicate_wild_ignore_table')).toBe('')
    expect(target.parameters.plan('sync_master_info', '1', 'why').text).toMatch(/^SET GLOBAL sync_master_info = 1 .*my\.cnf/)
  }, 60_000)
})
