import {MariaDBManagementClient} from '@azure/arm-mariadb'
import {readFileSync} from 'node:fs'
import {connect} from 'node:net'
import mariadb, {type Connection} from 'mariadb'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {sampleDataObjects} from '../../sandbox/sample-data.js'

let sandbox: Sandbox
let arm: MariaDBManagementClient

const fast = {updateIntervalInMs: 20}

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 200})
  const token = sandbox.azure.token
  arm = new MariaDBManagementClient({getToken: async () => ({token, expiresOnTimestamp: Date.now() + 3_600_000})}, sandbox.azure.subscriptionId, {
    endpoint: sandbox.azure.arm.url,
  })
})

afterAll(async () => {
  await sandbox?.stop()
})

const rg = () => sandbox.azure.resourceGroup
const server = () => sandbox.replica.serverName

/** datain's view of the replica: through the gateway, as the restricted admin, over verified TLS. */
function connectReplica(): Promise<Connection> {
  return mariadb.createConnection({
    host: sandbox.replica.host,
    port: sandbox.replica.port,
    user: sandbox.replica.user,
    password: sandbox.replica.password,
    ssl: {ca: readFileSync(sandbox.replica.sslCa, 'utf8')},
    connectTimeout: 5000,
  })
}

async function allowLoopback(name = 'test-loopback'): Promise<void> {
  await arm.firewallRules.beginCreateOrUpdateAndWait(rg(), server(), name, {startIpAddress: '127.0.0.1', endIpAddress: '127.0.0.1'}, fast)
}

/** The first packet the gateway sends to a client bound to `localAddress`. */
function firstPacket(localAddress: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({host: sandbox.replica.host, port: sandbox.replica.port, localAddress})
    socket.once('data', (data) => {
      socket.destroy()
      resolve(data)
    })
    socket.once('error', reject)
  })
}

describe('the emulated gateway', () => {
  it('refuses a client no firewall rule covers with error 9000 naming its IP, and lets it in once a rule does', async () => {
    const refused = await connectReplica().then(
      () => undefined,
      (error: {errno?: number; sqlMessage?: string}) => error,
    )
    expect(refused?.errno).toBe(9000)
    expect(refused?.sqlMessage).toBe("Client with IP address '127.0.0.1' is not allowed to connect to this MariaDB server.")

    await allowLoopback()
    const conn = await connectReplica()
    const [row] = await conn.query('SELECT CURRENT_USER() AS u, @@ssl_cipher IS NOT NULL AS tls')
    expect(row.u).toBe(`${sandbox.replica.account}@%`)
    await conn.end()

    // Another loopback address is still outside the rule: the gateway judges every client by its own IP.
    const packet = await firstPacket('127.0.0.2')
    expect(packet[4]).toBe(0xff)
    expect(packet.readUInt16LE(5)).toBe(9000)
    expect(packet.subarray(7).toString()).toContain("'127.0.0.2'")

    await arm.firewallRules.beginDeleteAndWait(rg(), server(), 'test-loopback', fast)
    await expect(connectReplica()).rejects.toMatchObject({errno: 9000})
    await allowLoopback()
  })
})

describe('the emulated replica', () => {
  it('refuses CHANGE MASTER TO and gtid_slave_pos from its admin (1227), as Azure does', async () => {
    await allowLoopback()
    const conn = await connectReplica()
    await expect(conn.query("CHANGE MASTER TO MASTER_HOST = '127.0.0.1'")).rejects.toMatchObject({errno: 1227})
    await expect(conn.query("SET GLOBAL gtid_slave_pos = '0-1-1'")).rejects.toMatchObject({errno: 1227})
    await expect(conn.query('STOP SLAVE')).rejects.toMatchObject({errno: 1227})
    const [grants] = await conn.query('SHOW GRANTS')
    expect(Object.values(grants)[0]).not.toMatch(/SUPER|REPLICATION SLAVE ADMIN|BINLOG ADMIN|READ_ONLY ADMIN|SET USER|ALL PRIVILEGES/)
    await conn.end()
  })

  it('refuses a function or trigger (1419) until log_bin_trust_function_creators is set through ARM', async () => {
    await allowLoopback()
    const conn = await connectReplica()
    await conn.query('CREATE DATABASE IF NOT EXISTS restore_test')
    const createFunction = 'CREATE FUNCTION restore_test.twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2'
    await expect(conn.query(createFunction)).rejects.toMatchObject({errno: 1419})

    await arm.configurations.beginCreateOrUpdateAndWait(rg(), server(), 'log_bin_trust_function_creators', {value: 'ON', source: 'user-override'}, fast)
    const [variable] = await sandbox.replica.server.query<Array<{v: number}>>('SELECT @@global.log_bin_trust_function_creators AS v')
    expect(Number(variable!.v)).toBe(1)
    await conn.query(createFunction)
    const [row] = await conn.query('SELECT restore_test.twice(21) AS v')
    expect(row.v).toBe(42)
    // A foreign DEFINER still needs SUPER or SET USER, which the admin lacks.
    await expect(
      conn.query("CREATE DEFINER = 'app'@'%' FUNCTION restore_test.thrice(x INT) RETURNS INT DETERMINISTIC RETURN x * 3"),
    ).rejects.toMatchObject({errno: 1227})

    await arm.configurations.beginCreateOrUpdateAndWait(rg(), server(), 'log_bin_trust_function_creators', {value: 'OFF', source: 'user-override'}, fast)
    await conn.query('DROP DATABASE restore_test')
    await conn.end()
  })

  it('refuses a read-only parameter through ARM and leaves it alone', async () => {
    await expect(
      arm.configurations.beginCreateOrUpdateAndWait(rg(), server(), 'lower_case_table_names', {value: '0', source: 'user-override'}, fast),
    ).rejects.toMatchObject({statusCode: 400})
    const [row] = await sandbox.replica.server.query<Array<{v: number}>>('SELECT @@lower_case_table_names AS v')
    expect(Number(row!.v)).toBe(1)
  })

  for (const mode of ['gtid', 'file/position'] as const) {
    for (const tls of [true, false]) {
      it(`replicates through the az_replication_* procedures in ${mode} mode ${tls ? 'over TLS' : 'without TLS'}`, async () => {
        await allowLoopback()
        await linkAndCheck(mode, tls)
      })
    }
  }

  it('skips one failing transaction with az_replication_skip_counter', async () => {
    await allowLoopback()
    const db = 'skip_test'
    await sandbox.source.server.execute([`CREATE DATABASE ${db}`, `CREATE TABLE ${db}.t (id INT PRIMARY KEY)`])
    const conn = await connectReplica()
    try {
      await conn.query(`CREATE DATABASE ${db}`)
      await conn.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY)`)
      await linkFromNow(conn, 'gtid', false)
      await conn.query('CALL mysql.az_replication_start')
      // A row written on the replica collides with the source's next insert: error 1062.
      await conn.query(`INSERT INTO ${db}.t VALUES (1)`)
      await sandbox.source.server.execute([`INSERT INTO ${db}.t VALUES (1)`, `INSERT INTO ${db}.t VALUES (2)`])
      // The SQL thread shows its error a moment before it has stopped: wait for both.
      const broken = await waitForStatus(conn, (s) => s.Last_SQL_Errno === 1062 && s.Slave_SQL_Running === 'No')
      expect(broken.Last_SQL_Error).toMatch(/Duplicate entry '1'/)
      await conn.query('CALL mysql.az_replication_skip_counter')
      await waitForStatus(conn, (s) => s.Slave_SQL_Running === 'Yes' && s.Last_SQL_Errno === 0)
      await waitFor(async () => (await conn.query(`SELECT COUNT(*) AS n FROM ${db}.t`))[0].n === 2n)
      await conn.query('CALL mysql.az_replication_stop')
      await conn.query('CALL mysql.az_replication_remove_master')
    } finally {
      await conn.end().catch(() => conn.destroy())
    }
  })
})

describe('the sample data', () => {
  it('has every kind of object on the source', async () => {
    const objects = sampleDataObjects()
    const q = <T>(sql: string) => sandbox.source.server.query<T[]>(sql, [objects.database])
    const names = async (sql: string, column: string) => (await q<Record<string, string>>(sql)).map((r) => r[column]).sort()
    expect(await names('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = "BASE TABLE"', 'n')).toEqual(
      [...objects.tables].sort(),
    )
    expect(await names('SELECT TABLE_NAME AS n FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?', 'n')).toEqual([...objects.views].sort())
    expect(await names('SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?', 'n')).toEqual([...objects.triggers].sort())
    expect(await names('SELECT EVENT_NAME AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?', 'n')).toEqual([...objects.events].sort())
    const routines = await q<{n: string; t: string; d: string}>('SELECT ROUTINE_NAME AS n, ROUTINE_TYPE AS t, DEFINER AS d FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?')
    expect(routines.filter((r) => r.t === 'PROCEDURE').map((r) => r.n).sort()).toEqual([...objects.procedures].sort())
    expect(routines.filter((r) => r.t === 'FUNCTION').map((r) => r.n).sort()).toEqual([...objects.functions].sort())
    expect(routines.every((r) => r.d === 'app@%')).toBe(true)
  })
})

describe('procedures in the `mariadb` schema', () => {
  it('installs them there when asked', async () => {
    const other = await startSandbox({sampleRows: 0, procedureSchema: 'mariadb'})
    try {
      const rows = await other.replica.server.query<Array<{Db: string; Name: string}>>("SHOW PROCEDURE STATUS WHERE Name LIKE 'az\\_replication%'")
      expect(new Set(rows.map((r) => r.Db))).toEqual(new Set(['mariadb']))
      expect(rows).toHaveLength(6)
    } finally {
      await other.stop()
    }
  })
})

type SlaveStatus = Record<string, unknown> & {Slave_IO_Running: string; Slave_SQL_Running: string; Last_SQL_Errno: number; Last_IO_Error: string}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function waitForStatus(conn: Connection, ok: (s: SlaveStatus) => boolean): Promise<SlaveStatus> {
  let last: SlaveStatus | undefined
  try {
    await waitFor(async () => {
      ;[last] = await conn.query('SHOW SLAVE STATUS')
      return last !== undefined && ok(last)
    })
  } catch {
    throw new Error(`replica status never matched: ${JSON.stringify(last, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`)
  }
  return last!
}

let replUsers = 0

/** Creates a replication user on the source and links the replica from the source's current position. */
async function linkFromNow(conn: Connection, mode: 'gtid' | 'file/position', tls: boolean): Promise<void> {
  const user = `repl${++replUsers}`
  const password = `p'w"$\\${replUsers}`
  await sandbox.source.server.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [user, password])
  await sandbox.source.server.query(`GRANT REPLICATION SLAVE ON *.* TO ?@'%' ${tls ? 'REQUIRE SSL' : ''}`, [user])
  const [master] = await sandbox.source.server.query<Array<{File: string; Position: bigint}>>('SHOW MASTER STATUS')
  const ca = tls ? readFileSync(sandbox.source.sslCa, 'utf8') : ''
  const {host, port} = {host: '127.0.0.1', port: sandbox.source.port}
  if (mode === 'gtid') {
    const [{gtid}] = (await sandbox.source.server.query<Array<{gtid: string}>>('SELECT BINLOG_GTID_POS(?, ?) AS gtid', [master!.File, master!.Position])) as [{gtid: string}]
    await conn.execute('CALL mysql.az_replication_change_master_with_gtid(?, ?, ?, ?, ?, ?)', [host, user, password, port, gtid, ca])
  } else {
    await conn.execute('CALL mysql.az_replication_change_master(?, ?, ?, ?, ?, ?, ?)', [host, user, password, port, master!.File, master!.Position, ca])
  }
}

async function linkAndCheck(mode: 'gtid' | 'file/position', tls: boolean): Promise<void> {
  const db = `repl_${mode === 'gtid' ? 'gtid' : 'pos'}_${tls ? 'tls' : 'plain'}`
  await sandbox.source.server.execute([`CREATE DATABASE ${db}`, `CREATE TABLE ${db}.t (id INT PRIMARY KEY, note VARCHAR(20))`])
  const conn = await connectReplica()
  try {
    // The snapshot: the same database on the replica, as a restore would leave it.
    await conn.query(`CREATE DATABASE ${db}`)
    await conn.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY, note VARCHAR(20))`)
    await linkFromNow(conn, mode, tls)
    await conn.query('CALL mysql.az_replication_start')
    await sandbox.source.server.execute([`INSERT INTO ${db}.t VALUES (1, 'one'), (2, 'two')`, `UPDATE ${db}.t SET note = 'deux' WHERE id = 2`])
    const status = await waitForStatus(conn, (s) => s.Slave_IO_Running === 'Yes' && s.Slave_SQL_Running === 'Yes')
    expect(status.Using_Gtid).toBe(mode === 'gtid' ? 'Slave_Pos' : 'No')
    expect(status.Master_SSL_Allowed).toBe(tls ? 'Yes' : 'No')
    await waitFor(async () => (await conn.query(`SELECT COUNT(*) AS n FROM ${db}.t WHERE note IN ('one', 'deux')`))[0].n === 2n)
    await conn.query('CALL mysql.az_replication_stop')
    const stopped = await waitForStatus(conn, (s) => s.Slave_IO_Running === 'No' && s.Slave_SQL_Running === 'No')
    expect(stopped.Master_Port).toBe(sandbox.source.port)
    await conn.query('CALL mysql.az_replication_remove_master')
    expect(await conn.query('SHOW SLAVE STATUS')).toHaveLength(0)
  } finally {
    await conn.end()
  }
}
