/**
 * Where Azure's documents leave the behaviour open, the sandbox emulates each possibility (issue 14):
 * what az_replication_remove_master leaves in SHOW SLAVE STATUS, and server parameters that real
 * Azure Database for MariaDB may not have.
 */
import {MariaDBManagementClient} from '@azure/arm-mariadb'
import {readFileSync} from 'node:fs'
import mariadb, {type Connection} from 'mariadb'
import {afterAll, describe, expect, it} from 'vitest'
import {type AzureSandbox, startSandbox} from '../../sandbox/sandbox.js'
import type {RemoveMaster} from '../../sandbox/replica-procedures.js'
import {allowLoopback} from '../helpers/preflight.js'

const started = new Map<string, Promise<AzureSandbox>>()

afterAll(async () => {
  for (const sandbox of started.values()) await (await sandbox).stop()
})

/** One sandbox per set of options, shared by the tests that ask for the same. */
function sandboxWith(options: NonNullable<Parameters<typeof startSandbox>[0]>): Promise<AzureSandbox> {
  const key = JSON.stringify(options)
  if (!started.has(key)) {
    started.set(key, startSandbox({sampleRows: 0, ...options}).then((sandbox) => (allowLoopback(sandbox), sandbox)))
  }
  return started.get(key)!
}

function connectReplica(sandbox: AzureSandbox): Promise<Connection> {
  const {host, port, user, password, sslCa} = sandbox.replica
  return mariadb.createConnection({host, port, user, password, ssl: {ca: readFileSync(sslCa, 'utf8')}, connectTimeout: 5000})
}

function armClient(sandbox: AzureSandbox): MariaDBManagementClient {
  const {token, subscriptionId, arm} = sandbox.azure
  return new MariaDBManagementClient({getToken: async () => ({token, expiresOnTimestamp: Date.now() + 3_600_000})}, subscriptionId, {endpoint: arm.url})
}

type SlaveStatus = Record<string, unknown> & {Master_Host: string; Slave_IO_Running: string; Slave_SQL_Running: string}

async function slaveStatus(conn: Connection): Promise<SlaveStatus[]> {
  return conn.query('SHOW SLAVE STATUS')
}

async function linkAndStart(sandbox: AzureSandbox, conn: Connection): Promise<void> {
  await sandbox.source.server.execute(["CREATE USER IF NOT EXISTS fid_repl@'%' IDENTIFIED BY 'fidpw'", "GRANT REPLICATION SLAVE ON *.* TO fid_repl@'%'"])
  const [{gtid}] = await sandbox.source.server.query<[{gtid: string}]>('SELECT @@gtid_binlog_pos AS gtid')
  await conn.execute('CALL mysql.az_replication_change_master_with_gtid(?, ?, ?, ?, ?, ?)', ['127.0.0.1', 'fid_repl', 'fidpw', sandbox.source.port, gtid, ''])
  await conn.query('CALL mysql.az_replication_start')
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const [s] = await slaveStatus(conn)
    if (s?.Slave_IO_Running === 'Yes' && s.Slave_SQL_Running === 'Yes') return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`replication did not start: ${JSON.stringify(await slaveStatus(conn))}`)
}

describe.each<{removeMaster: RemoveMaster | undefined; rows: number}>([
  {removeMaster: undefined, rows: 0},
  {removeMaster: 'reset-slave-all', rows: 0},
  {removeMaster: 'reset-slave', rows: 1},
])('az_replication_remove_master with removeMaster: $removeMaster', ({removeMaster, rows}) => {
  it(`leaves ${rows === 0 ? 'no SHOW SLAVE STATUS row' : 'a row with both threads stopped'}`, async () => {
    const sandbox = await sandboxWith(removeMaster ? {removeMaster} : {})
    const conn = await connectReplica(sandbox)
    try {
      await linkAndStart(sandbox, conn)
      await conn.query('CALL mysql.az_replication_remove_master')
      const status = await slaveStatus(conn)
      expect(status).toHaveLength(rows)
      if (rows === 1) {
        // MariaDB's RESET SLAVE: the connection settings stay (host, user, port, GTID mode), the
        // positions go, both threads stopped. No row of MariaDB 10.11 has an empty host: CHANGE MASTER
        // refuses MASTER_HOST = '' (1210). After a restart the row is gone (master.info was removed).
        const [row] = status
        expect({
          host: row!.Master_Host, user: row!.Master_User, port: row!.Master_Port, io: row!.Slave_IO_Running, sql: row!.Slave_SQL_Running,
          file: row!.Master_Log_File, read: row!.Read_Master_Log_Pos, exec: row!.Exec_Master_Log_Pos, relayMaster: row!.Relay_Master_Log_File,
          gtidIo: row!.Gtid_IO_Pos, usingGtid: row!.Using_Gtid,
        }).toEqual({
          host: '127.0.0.1', user: 'fid_repl', port: sandbox.source.port, io: 'No', sql: 'No',
          file: '', read: 4n, exec: 0n, relayMaster: '', gtidIo: '', usingGtid: 'Slave_Pos',
        })
        await expect(conn.query("CHANGE MASTER TO MASTER_HOST = ''")).rejects.toMatchObject({errno: 1227})
        await expect(sandbox.replica.server.query("CHANGE MASTER TO MASTER_HOST = ''")).rejects.toMatchObject({errno: 1210})
        await conn.end()
        await sandbox.replica.server.restart()
        const again = await connectReplica(sandbox)
        expect(await slaveStatus(again)).toHaveLength(0)
        await again.end()
      }
    } finally {
      await conn.end().catch(() => {})
    }
  })
})

describe('server parameters real Azure MariaDB may lack (withoutParameters)', () => {
  const missing = ['replicate_wild_ignore_table', 'sync_master_info', 'sync_relay_log_info']

  it('answers 404 for them, lists them not, and leaves the others alone', async () => {
    const sandbox = await sandboxWith({withoutParameters: missing})
    const arm = armClient(sandbox)
    const {resourceGroup} = sandbox.azure
    const server = sandbox.replica.serverName
    for (const name of missing) {
      await expect(arm.configurations.get(resourceGroup, server, name)).rejects.toMatchObject({statusCode: 404, code: 'ResourceNotFound'})
      await expect(
        arm.configurations.beginCreateOrUpdateAndWait(resourceGroup, server, name, {value: '1', source: 'user-override'}, {updateIntervalInMs: 20}),
      ).rejects.toMatchObject({statusCode: 404})
    }
    const listed: string[] = []
    for await (const c of arm.configurations.listByServer(resourceGroup, server)) listed.push(c.name!)
    expect(listed.filter((n) => missing.includes(n))).toEqual([])
    expect(listed).toContain('log_bin_trust_function_creators')
    expect((await arm.configurations.get(resourceGroup, server, 'log_bin_trust_function_creators')).value).toBe('OFF')
    // The server itself still has them: only ARM does not offer them.
    const [row] = await sandbox.replica.server.query<Array<{v: number}>>('SELECT @@global.sync_master_info AS v')
    expect(Number(row!.v)).toBeGreaterThanOrEqual(0)
  })

  it('offers them by default', async () => {
    const sandbox = await sandboxWith({})
    const arm = armClient(sandbox)
    for (const name of missing) {
      expect((await arm.configurations.get(sandbox.azure.resourceGroup, sandbox.replica.serverName, name)).name).toBe(name)
    }
  })
})
