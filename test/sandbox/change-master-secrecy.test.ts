/**
 * What MariaDB 10.11 shows of `CHANGE MASTER TO … MASTER_PASSWORD='…'` to someone who can read the
 * replica's process list, general log, slow log, performance_schema or binary log. These are facts
 * of the server, asserted here so that datain's choice (ReplicationControls.link, the README's
 * "what a DBA can see") stays true when the server changes. Run as the plain replica's admin, with
 * the privileges the sandbox gives it (no SUPER).
 */
import path from 'node:path'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import mariadb, {type Connection} from 'mariadb'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {MariaDbServer} from '../../sandbox/mariadb-server.js'
import {plainReplicaAdminGrants} from '../../sandbox/plain-replica.js'

let dir: string
let server: MariaDbServer
let admin: Connection
let secrets = 0
/** performance_schema's statement consumers as 10.11 starts them, before this test turns them on. */
let defaultConsumers: Array<{NAME: string; ENABLED: string}>

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'datain-secrecy-'))
  server = await MariaDbServer.start({dir, serverId: 11, extraArgs: ['--performance-schema=ON']})
  defaultConsumers = await server.query("SELECT NAME, ENABLED FROM performance_schema.setup_consumers WHERE NAME LIKE 'events_statements%'")
  await server.execute([
    "CREATE USER admin@'%' IDENTIFIED BY 'adminpw'",
    ...plainReplicaAdminGrants("admin@'%'"),
    'CREATE DATABASE d',
    "UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME LIKE 'events_statements%'",
    // Every log on, every statement slow: the worst case a DBA can configure.
    "SET GLOBAL log_output = 'TABLE'",
    'SET GLOBAL general_log = ON',
    'SET GLOBAL long_query_time = 0',
    'SET GLOBAL log_slow_query = ON',
  ])
  admin = await mariadb.createConnection({host: '127.0.0.1', port: server.port, user: 'admin', password: 'adminpw', database: 'd'})
})

afterAll(async () => {
  await admin?.end().catch(() => {})
  await server?.stop()
  if (dir) await rm(dir, {recursive: true, force: true})
})

beforeEach(async () => {
  await server.execute(['STOP SLAVE', 'RESET SLAVE ALL'])
})

const newSecret = () => `Secret${++secrets}x${process.pid}`
const link = (secret: string) => `CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = 1, MASTER_USER = 'repl', MASTER_PASSWORD = '${secret}', MASTER_USE_GTID = slave_pos`

/** Every line of the general and slow logs (and performance_schema's history) that holds `secret`. */
async function seen(secret: string): Promise<{general: string[]; slow: string[]; history: string[]}> {
  const like = `%${secret}%`
  const general = await server.query<Array<{c: string; a: Buffer}>>('SELECT command_type AS c, argument AS a FROM mysql.general_log WHERE argument LIKE ?', [like])
  const slow = await server.query<Array<{t: Buffer}>>('SELECT sql_text AS t FROM mysql.slow_log WHERE sql_text LIKE ?', [like])
  const history = await server.query<Array<{t: string}>>('SELECT SQL_TEXT AS t FROM performance_schema.events_statements_history_long WHERE SQL_TEXT LIKE ?', [like])
  // These very queries land in the logs too: leave them out.
  const mine = (text: string) => /FROM (mysql\.(general|slow)_log|performance_schema\.events_statements)/.test(text)
  return {
    general: general.map((r) => `${r.c}: ${String(r.a)}`).filter((t) => !mine(t)),
    slow: slow.map((r) => String(r.t)).filter((t) => !mine(t)),
    history: history.map((r) => r.t).filter((t) => !mine(t)),
  }
}

describe('CHANGE MASTER TO … MASTER_PASSWORD on MariaDB 10.11', () => {
  it('shows the password in clear in the process list while it runs (a), to whoever has PROCESS', async () => {
    const poll = await server.connectAsRoot()
    try {
      let info: string | undefined
      // The statement runs for a few milliseconds: run it until a second connection catches it running.
      for (let i = 0; i < 2000 && info === undefined; i++) {
        const secret = newSecret()
        const running = admin.query(link(secret))
        const [row] = await poll.query("SELECT INFO FROM information_schema.PROCESSLIST WHERE INFO LIKE 'CHANGE MASTER%'")
        await running
        if (row) info = String(row.INFO)
      }
      expect(info).toMatch(/MASTER_PASSWORD = 'Secret\d+x\d+'/)
    } finally {
      await poll.end()
    }
  })

  it('writes the password in clear to the general log (b), the slow log (c) and performance_schema; the digest masks it', async () => {
    const secret = newSecret()
    await admin.query(link(secret))
    expect(await seen(secret)).toEqual({general: [`Query: ${link(secret)}`], slow: [link(secret)], history: [link(secret)]})
    const digests = await server.query<Array<{t: string}>>("SELECT DIGEST_TEXT AS t FROM performance_schema.events_statements_summary_by_digest WHERE DIGEST_TEXT LIKE 'CHANGE MASTER%'")
    expect(digests.map((d) => d.t).join('\n')).toContain('MASTER_PASSWORD = ?')
    // The texts are kept only where a DBA turned the statement consumers on: with performance_schema=ON they start off.
    expect(defaultConsumers.map((c) => c.ENABLED)).toEqual(['NO', 'NO', 'NO'])
  })

  it('never writes the statement to the binary log (d)', async () => {
    const secret = newSecret()
    await admin.query(link(secret))
    const logs = await server.query<Array<{Log_name: string}>>('SHOW BINARY LOGS')
    for (const {Log_name} of logs) {
      const events = await server.query<Array<{Info: string}>>(`SHOW BINLOG EVENTS IN '${Log_name}'`)
      expect(events.filter((e) => /MASTER|Secret/i.test(String(e.Info)))).toEqual([])
    }
  })

  it('takes no placeholder and no variable for the password; PREPARE from text logs it twice (e)', async () => {
    await expect(admin.query("PREPARE s FROM 'CHANGE MASTER TO MASTER_PASSWORD = ?'")).rejects.toMatchObject({errno: 1064})
    await expect(admin.query('CHANGE MASTER TO MASTER_HOST = \'127.0.0.1\', MASTER_PASSWORD = @p')).rejects.toMatchObject({errno: 1064})
    const secret = newSecret()
    await admin.query('SET @p = ?', [secret])
    await admin.query("PREPARE s FROM CONCAT('CHANGE MASTER TO MASTER_HOST = ''127.0.0.1'', MASTER_PASSWORD = ', QUOTE(@p))")
    await admin.query('EXECUTE s')
    await admin.query('DEALLOCATE PREPARE s')
    const {general, slow} = await seen(secret)
    // The text protocol sends `SET @p = '…'` as it is; then Prepare and Execute each log the built statement.
    expect(general).toEqual([
      `Query: SET @p = '${secret}'`,
      `Prepare: CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PASSWORD = '${secret}'`,
      `Execute: CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PASSWORD = '${secret}'`,
    ])
    expect(slow).toContain(`CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PASSWORD = '${secret}'`)
  })

  it('does not keep a binary-protocol parameter out of the logs: Execute logs it expanded', async () => {
    const secret = newSecret()
    await admin.execute('SELECT ? INTO @p', [secret])
    const {general, slow} = await seen(secret)
    expect(general).toEqual([`Execute: SELECT '${secret}' INTO @p`])
    expect(slow).toEqual([`SELECT '${secret}' INTO @p`])
  })

  it('leaves out of the slow log with SET SESSION log_slow_query = 0 (no privilege needed), not out of the general log (f)', async () => {
    await admin.query('SET SESSION log_slow_query = 0')
    const secret = newSecret()
    try {
      await admin.query(link(secret))
    } finally {
      await admin.query('SET SESSION log_slow_query = 1')
    }
    const {general, slow} = await seen(secret)
    expect(slow).toEqual([])
    expect(general).toEqual([`Query: ${link(secret)}`])
  })

  it('leaves out of the general log with SET SESSION sql_log_off = 1, which needs SUPER, not out of the slow log (f)', async () => {
    await expect(admin.query('SET SESSION sql_log_off = 1')).rejects.toMatchObject({errno: 1227, sqlMessage: expect.stringContaining('SUPER')})
    const root = await server.connectAsRoot()
    const secret = newSecret()
    try {
      await root.query('SET SESSION sql_log_off = 1')
      await root.query(link(secret))
    } finally {
      await root.end()
    }
    const {general, slow} = await seen(secret)
    expect(general).toEqual([])
    expect(slow).toEqual([link(secret)])
  })

  it('logs nothing of a statement a stored procedure runs (log_disabled_statements = sp, which the admin cannot change)', async () => {
    const [vars] = await admin.query('SELECT @@log_disabled_statements AS general, @@log_slow_disabled_statements AS slow')
    expect(vars).toEqual({general: 'sp', slow: 'sp'})
    await expect(admin.query("SET SESSION log_disabled_statements = ''")).rejects.toMatchObject({errno: 1227})
    await admin.query(`CREATE OR REPLACE PROCEDURE d.link_from_p() BEGIN
        SET @s = CONCAT('CHANGE MASTER TO MASTER_HOST = ''127.0.0.1'', MASTER_PASSWORD = ', QUOTE(@p));
        PREPARE s FROM @s; SET @s = NULL; EXECUTE s; DEALLOCATE PREPARE s; END`)
    const secret = newSecret()
    // How @p gets the password is what decides: here as root with the general and slow logs off for the session.
    const root = await server.connectAsRoot()
    try {
      await root.query('SET SESSION sql_log_off = 1, log_slow_query = 0')
      await root.query('SET @p = ?', [secret])
      await root.query('CALL d.link_from_p()')
    } finally {
      await root.end()
    }
    // performance_schema keeps every top-level text whatever the session's log switches: the way in, not the built statement.
    expect(await seen(secret)).toEqual({general: [], slow: [], history: [`SET @p = '${secret}'`]})
    const [status] = await server.query<Array<{Master_Host: string}>>('SHOW SLAVE STATUS')
    expect(status?.Master_Host).toBe('127.0.0.1')
  })

  it('shows in the process list the statement a stored procedure runs now, not the CALL', async () => {
    await admin.query('CREATE OR REPLACE PROCEDURE d.slow_inside() BEGIN DO 1; SELECT SLEEP(0.5) INTO @ignored; END')
    const poll = await server.connectAsRoot()
    try {
      const call = admin.query('CALL d.slow_inside()')
      await new Promise((r) => setTimeout(r, 250))
      const rows = await poll.query("SELECT INFO FROM information_schema.PROCESSLIST WHERE USER = 'admin'")
      await call
      expect(rows.map((r: {INFO: string}) => r.INFO)).toEqual(['SELECT SLEEP(0.5) INTO @ignored'])
    } finally {
      await poll.end()
    }
  })
})
