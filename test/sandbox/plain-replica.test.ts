import {readFileSync} from 'node:fs'
import mariadb, {type Connection} from 'mariadb'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {describeSandbox} from '../../sandbox/describe.js'
import {PLAIN_REPLICA_ADMIN} from '../../sandbox/plain-replica.js'
import {type MariaDbSandbox, startSandbox} from '../../sandbox/sandbox.js'

let sandbox: MariaDbSandbox

beforeAll(async () => {
  sandbox = await startSandbox({target: 'mariadb', sampleRows: 20})
})

afterAll(async () => {
  await sandbox?.stop()
})

/** The replica as datain reaches it with `--target mariadb`: directly, as the DBA's account, over verified TLS. */
function connectReplica(options: {tls?: boolean} = {}): Promise<Connection> {
  return mariadb.createConnection({
    host: sandbox.replica.host,
    port: sandbox.replica.port,
    user: sandbox.replica.user,
    password: sandbox.replica.password,
    ...(options.tls === false ? {} : {ssl: {ca: readFileSync(sandbox.replica.sslCa, 'utf8')}}),
    connectTimeout: 5000,
  })
}

type SlaveStatus = Record<string, unknown> & {Slave_IO_Running: string; Slave_SQL_Running: string; Last_SQL_Errno: number}

async function waitForStatus(conn: Connection, ok: (s: SlaveStatus) => boolean, timeoutMs = 20_000): Promise<SlaveStatus> {
  const deadline = Date.now() + timeoutMs
  let last: SlaveStatus | undefined
  while (Date.now() < deadline) {
    ;[last] = await conn.query('SHOW SLAVE STATUS')
    if (last && ok(last)) return last
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`replica status never matched: ${JSON.stringify(last, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`)
}

const running = (s: SlaveStatus) => s.Slave_IO_Running === 'Yes' && s.Slave_SQL_Running === 'Yes'
const stopped = (s: SlaveStatus) => s.Slave_IO_Running === 'No' && s.Slave_SQL_Running === 'No'

describe('the plain MariaDB replica (--target mariadb)', () => {
  it('is reached directly, by an account that is neither root nor user@server, with TLS offered and not required', async () => {
    expect(sandbox.target).toBe('mariadb')
    expect(sandbox.gateway).toBeUndefined()
    expect(sandbox.azure).toBeUndefined()
    expect(sandbox.replica.port).toBe(sandbox.replica.server.port)
    expect(sandbox.replica.user).toBe(PLAIN_REPLICA_ADMIN)
    const conn = await connectReplica()
    try {
      const [row] = await conn.query('SELECT CURRENT_USER() AS u, @@server_id AS id, @@log_bin AS binlog, @@require_secure_transport AS rst')
      expect(row.u).toBe(`${PLAIN_REPLICA_ADMIN}@%`)
      const [cipher] = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
      expect(cipher.Value).toBeTruthy()
      expect(Number(row.id)).not.toBe(Number((await sandbox.source.server.query<Array<{id: number}>>('SELECT @@server_id AS id'))[0]!.id))
      expect(Number(row.binlog)).toBe(1)
      expect(Number(row.rst)).toBe(0)
      const procedures = await conn.query("SELECT COUNT(*) AS n FROM information_schema.ROUTINES WHERE ROUTINE_NAME LIKE 'az\\_replication%'")
      expect(procedures[0].n).toBe(0n)
    } finally {
      await conn.end()
    }
    const plain = await connectReplica({tls: false})
    await plain.end()
  })

  it('has its own CA, not the source\'s', () => {
    expect(sandbox.replica.sslCa).not.toBe(sandbox.source.sslCa)
    expect(readFileSync(sandbox.replica.sslCa, 'utf8')).not.toBe(readFileSync(sandbox.source.sslCa, 'utf8'))
  })

  it('gives datain and a person DATAIN_TARGET=mariadb and the two servers, nothing of Azure', () => {
    const env = sandbox.env()
    expect(env.DATAIN_TARGET).toBe('mariadb')
    expect(env.DATAIN_REPLICA_PORT).toBe(String(sandbox.replica.server.port))
    expect(env.DATAIN_REPLICA_USER).toBe(PLAIN_REPLICA_ADMIN)
    expect(env.DATAIN_SOURCE_USER).toBe(sandbox.source.user)
    expect(Object.keys(env).filter((k) => /SUBSCRIPTION|RESOURCE_GROUP|DATAIN_SERVER|ARM|NODE_EXTRA_CA_CERTS/.test(k))).toEqual([])
    expect(describeSandbox(sandbox)[0]).toMatch(/^mode\s+mariadb/)
    expect(describeSandbox(sandbox).join('\n')).not.toMatch(/^ARM|gateway 127/m)
  })

  it('lets its admin run every statement datain runs to link, start, stop, filter, skip and remove', async () => {
    const db = 'plain_link'
    const replUser = 'plain_repl'
    const replPassword = `p'w"$\\1`
    await sandbox.source.server.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [replUser, replPassword])
    await sandbox.source.server.query(`GRANT REPLICATION SLAVE ON *.* TO ?@'%' REQUIRE SSL`, [replUser])
    await sandbox.source.server.execute([`CREATE DATABASE ${db}`, `CREATE TABLE ${db}.t (id INT PRIMARY KEY)`])
    const [{gtid}] = await sandbox.source.server.query<[{gtid: string}]>('SELECT @@gtid_binlog_pos AS gtid')
    const conn = await connectReplica()
    try {
      await conn.query(`CREATE DATABASE ${db}`)
      await conn.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY)`)
      await conn.query('SET GLOBAL gtid_slave_pos = ?', [gtid])
      // The source's CA is a file on the replica's host: here both run on this machine.
      await conn.query(
        `CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${sandbox.source.port}, MASTER_USER = ?, MASTER_PASSWORD = ?,
           MASTER_SSL = 1, MASTER_SSL_CA = ?, MASTER_SSL_VERIFY_SERVER_CERT = 1, MASTER_USE_GTID = slave_pos`,
        [replUser, replPassword, sandbox.source.sslCa],
      )
      await conn.query('START SLAVE')
      const status = await waitForStatus(conn, running)
      expect(status.Using_Gtid).toBe('Slave_Pos')
      expect(status.Master_SSL_Allowed).toBe('Yes')
      expect(status.Master_SSL_Verify_Server_Cert).toBe('Yes')

      // The filter needs both threads stopped (1198 while they run).
      await expect(conn.query("SET GLOBAL replicate_wild_ignore_table = 'other.%'")).rejects.toMatchObject({errno: 1198})
      await conn.query('STOP SLAVE')
      await waitForStatus(conn, stopped)
      await conn.query("SET GLOBAL replicate_wild_ignore_table = 'other.%'")
      await conn.query("SET GLOBAL replicate_wild_ignore_table = ''")
      for (const sql of ['SET GLOBAL sync_master_info = 1', 'SET GLOBAL sync_relay_log_info = 1', 'SET GLOBAL log_bin_trust_function_creators = ON']) {
        await conn.query(sql)
      }
      await conn.query('SET GLOBAL log_bin_trust_function_creators = OFF')
      await conn.query('START SLAVE')
      await waitForStatus(conn, running)

      // A row of the replica's own collides with the source's next insert: 1062 stops the SQL thread.
      await conn.query(`INSERT INTO ${db}.t VALUES (1)`)
      await sandbox.source.server.execute([`INSERT INTO ${db}.t VALUES (1)`, `INSERT INTO ${db}.t VALUES (2)`])
      await waitForStatus(conn, (s) => s.Last_SQL_Errno === 1062 && s.Slave_SQL_Running === 'No')
      await conn.query('STOP SLAVE')
      // MariaDB 10.11 still asks SUPER for sql_slave_skip_counter: REPLICATION SLAVE ADMIN is not enough.
      await expect(conn.query('SET GLOBAL sql_slave_skip_counter = 1')).rejects.toMatchObject({errno: 1227, sqlMessage: expect.stringContaining('SUPER')})
      // What the admin can do instead in GTID mode: move gtid_slave_pos past the failing group.
      const [{applied}] = await conn.query('SELECT @@gtid_slave_pos AS applied')
      await conn.query('START SLAVE')
      await waitForStatus(conn, (s) => s.Last_SQL_Errno === 1062)
      await conn.query('STOP SLAVE')
      const skipped = nextGtid(String(applied))
      await conn.query('SET GLOBAL gtid_slave_pos = ?', [skipped])
      await conn.query('START SLAVE')
      await waitForStatus(conn, (s) => running(s) && s.Last_SQL_Errno === 0)
      const rows = async () => (await conn.query(`SELECT COUNT(*) AS n FROM ${db}.t`))[0].n
      const deadline = Date.now() + 20_000
      while ((await rows()) !== 2n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      expect(await rows()).toBe(2n)

      await conn.query('STOP SLAVE')
      await waitForStatus(conn, stopped)
      await conn.query('RESET SLAVE ALL')
      expect(await conn.query('SHOW SLAVE STATUS')).toHaveLength(0)
      // read_only is the source's business (cutover), and needs READ_ONLY ADMIN, which this admin lacks.
      await expect(conn.query('SET GLOBAL read_only = OFF')).rejects.toMatchObject({errno: 1227})
    } finally {
      await conn.end()
    }
  })

  it('gives SUPER to the admin when asked, for sql_slave_skip_counter', async () => {
    const other = await startSandbox({target: 'mariadb', sampleRows: 0, replica: {superAdmin: true}})
    try {
      const conn = await mariadb.createConnection({
        host: other.replica.host, port: other.replica.port, user: other.replica.user, password: other.replica.password,
        ssl: {ca: readFileSync(other.replica.sslCa, 'utf8')},
      })
      await conn.query('SET GLOBAL sql_slave_skip_counter = 1')
      await conn.query('SET GLOBAL sql_slave_skip_counter = 0')
      await conn.end()
    } finally {
      await other.stop()
    }
  })
})

/** `0-1-7` → `0-1-8`: the GTID after the last applied one, in the single domain the sandbox's source writes. */
function nextGtid(pos: string): string {
  const [domain, server, seq] = pos.split('-')
  return `${domain}-${server}-${Number(seq) + 1}`
}
