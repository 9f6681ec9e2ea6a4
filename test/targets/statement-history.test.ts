/**
 * performance_schema and the mariadb target's CHANGE MASTER TO, on a real MariaDB 10.11 started with
 * --performance-schema=ON and every statement consumer on: the statement's text (the password a
 * literal in it) would be kept in events_statements_current / _history / _history_long. datain
 * turns off its own session's instrumentation around the link (its admin's global UPDATE allows it),
 * or refuses when it may not.
 */
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import mariadb, {type Connection} from 'mariadb'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {MariaDbServer} from '../../sandbox/mariadb-server.js'
import {plainReplicaAdminGrants} from '../../sandbox/plain-replica.js'
import {mariadbReplication} from '../../src/targets/mariadb/replication.js'
import type {LinkSpec} from '../../src/targets/target.js'

let dir: string
let server: MariaDbServer
let secrets = 0
const open: Connection[] = []

const HISTORY_TABLES = ['events_statements_current', 'events_statements_history', 'events_statements_history_long']
const ALL_CONSUMERS_ON = "UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME LIKE 'events_statements%' OR NAME LIKE '%_instrumentation'"

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'datain-pfs-'))
  server = await MariaDbServer.start({dir, serverId: 12, extraArgs: ['--performance-schema=ON']})
  await server.execute([
    "CREATE USER admin@'%' IDENTIFIED BY 'adminpw'",
    ...plainReplicaAdminGrants("admin@'%'"),
    // A DBA's narrower grant: the replication controls and reading, no UPDATE.
    "CREATE USER narrow@'%' IDENTIFIED BY 'narrowpw'",
    "GRANT SELECT, REPLICATION SLAVE ADMIN, SLAVE MONITOR ON *.* TO narrow@'%'",
    // Not even SELECT: performance_schema unreadable.
    "CREATE USER blind@'%' IDENTIFIED BY 'blindpw'",
    "GRANT REPLICATION SLAVE ADMIN, SLAVE MONITOR ON *.* TO blind@'%'",
    // The grant datain's refusal names.
    "CREATE USER granted@'%' IDENTIFIED BY 'grantedpw'",
    "GRANT SELECT, REPLICATION SLAVE ADMIN, SLAVE MONITOR ON *.* TO granted@'%'",
    "GRANT UPDATE ON performance_schema.threads TO granted@'%'",
    ALL_CONSUMERS_ON,
  ])
}, 120_000)

afterEach(async () => {
  for (const conn of open.splice(0)) await conn.end().catch(() => {})
  await server.execute(['STOP SLAVE', 'RESET SLAVE ALL', ALL_CONSUMERS_ON])
})

afterAll(async () => {
  await server?.stop()
  if (dir) await rm(dir, {recursive: true, force: true})
})

async function connect(user: string): Promise<Connection> {
  const conn = await mariadb.createConnection({host: '127.0.0.1', port: server.port, user, password: `${user}pw`})
  open.push(conn)
  return conn
}

// Quotes and a backslash, as the generated passwords may have; found by its tail, whatever the escaping.
const newSecret = () => `Pfs'\\"Q${++secrets}zq${process.pid}`
const tail = (secret: string) => secret.slice(secret.indexOf('Q'))
const spec: LinkSpec = {host: '127.0.0.1', port: 1, user: 'repl', position: {mode: 'gtid', gtid: ''}, sourceTls: false, caLabel: ''}

/** Every text performance_schema holds that contains `secret`, in any escaping. */
async function seen(secret: string): Promise<string[]> {
  const needle = tail(secret)
  const texts: string[] = []
  for (const table of HISTORY_TABLES) {
    const rows = await server.query<Array<{t: string | null; d: string | null}>>(`SELECT SQL_TEXT AS t, DIGEST_TEXT AS d FROM performance_schema.${table}`)
    for (const r of rows) texts.push(String(r.t ?? ''), String(r.d ?? ''))
  }
  const digests = await server.query<Array<{d: string | null}>>('SELECT DIGEST_TEXT AS d FROM performance_schema.events_statements_summary_by_digest')
  const prepared = await server.query<Array<{t: string | null}>>('SELECT SQL_TEXT AS t FROM performance_schema.prepared_statements_instances')
  const threads = await server.query<Array<{t: string | null}>>('SELECT PROCESSLIST_INFO AS t FROM performance_schema.threads')
  texts.push(...digests.map((r) => String(r.d ?? '')), ...prepared.map((r) => String(r.t ?? '')), ...threads.map((r) => String(r.t ?? '')))
  return texts.filter((t) => t.includes(needle))
}

async function instrumented(conn: Connection): Promise<string> {
  const [row] = (await conn.query('SELECT INSTRUMENTED AS i FROM performance_schema.threads WHERE PROCESSLIST_ID = CONNECTION_ID()')) as Array<{i: string}>
  return row!.i
}

async function linkAs(conn: Connection, secret: string): Promise<void> {
  const controls = await mariadbReplication({}).open(conn, ['link'])
  await controls.assertPasswordStaysSecret()
  await controls.link(spec, secret)
}

describe('the mariadb target with performance_schema keeping statement texts', () => {
  it('the server keeps CHANGE MASTER TO with its password when nothing is done (what datain guards against)', async () => {
    const conn = await connect('admin')
    const secret = 'UnguardedQ0zq'
    await conn.query(`CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = 1, MASTER_PASSWORD = '${secret}'`)
    // While the session lives: its current statement, its history, the long history.
    expect((await seen(secret)).length).toBeGreaterThanOrEqual(3)
  })

  it('links as an admin with the global UPDATE privilege: the password nowhere in performance_schema, the session instrumented again after', async () => {
    const conn = await connect('admin')
    const secret = newSecret()
    await linkAs(conn, secret)
    const [slave] = await server.query<Array<{Master_Port: number; Master_User: string}>>('SHOW SLAVE STATUS')
    expect([Number(slave?.Master_Port), slave?.Master_User]).toEqual([1, 'repl'])
    // The session is still open (its current statement and short history are kept only while it is).
    expect(await seen(secret)).toEqual([])
    expect(await instrumented(conn)).toBe('YES')
    await conn.query("SELECT 'after-the-link'")
    const history = await server.query<unknown[]>("SELECT 1 FROM performance_schema.events_statements_history_long WHERE SQL_TEXT = 'SELECT ''after-the-link'''")
    expect(history).toHaveLength(1)
    await conn.end()
    expect(await seen(secret)).toEqual([])
    // performance_schema's tables are not replicated: the replica's binary log got no event from datain's switch.
    for (const {Log_name} of await server.query<Array<{Log_name: string}>>('SHOW BINARY LOGS')) {
      const events = await server.query<Array<{Info: string}>>(`SHOW BINLOG EVENTS IN '${Log_name}'`)
      expect(events.filter((e) => /UPDATE performance_schema|MASTER/i.test(String(e.Info)))).toEqual([])
    }
  })

  it('refuses an account that may not switch its instrumentation off (E_REPLICA_STATEMENT_HISTORY), naming the consumers and the fix; nothing linked, nothing kept', async () => {
    const conn = await connect('narrow')
    const secret = newSecret()
    const controls = await mariadbReplication({}).open(conn, ['link'])
    const refused = await controls.assertPasswordStaysSecret().then(
      () => undefined,
      (error: unknown) => error as {code: string; exitCode: number; message: string},
    )
    expect(refused).toMatchObject({code: 'E_REPLICA_STATEMENT_HISTORY', exitCode: 1})
    expect(refused!.message).toContain('events_statements_current, events_statements_history, events_statements_history_long ON')
    expect(refused!.message).toContain("UPDATE performance_schema.setup_consumers SET ENABLED = 'NO' WHERE NAME LIKE 'events_statements%'")
    expect(refused!.message).toContain('GRANT UPDATE ON performance_schema.threads')
    // The link itself refuses too, before it sends anything.
    await expect(controls.link(spec, secret)).rejects.toMatchObject({code: 'E_REPLICA_STATEMENT_HISTORY'})
    expect(await server.query('SHOW SLAVE STATUS')).toEqual([])
    expect(await seen(secret)).toEqual([])
    expect(await instrumented(conn)).toBe('YES')
  })

  it('refuses an account that may not even read performance_schema: what it cannot see counts as on', async () => {
    const conn = await connect('blind')
    const secret = newSecret()
    await expect(linkAs(conn, secret)).rejects.toMatchObject({
      code: 'E_REPLICA_STATEMENT_HISTORY',
      message: expect.stringContaining('datain may not read performance_schema.setup_consumers'),
    })
    expect(await server.query('SHOW SLAVE STATUS')).toEqual([])
    expect(await seen(secret)).toEqual([])
  })

  it('links as that account once the consumers are off (only the long history on counts as on)', async () => {
    await server.execute(["UPDATE performance_schema.setup_consumers SET ENABLED = 'NO' WHERE NAME IN ('events_statements_current', 'events_statements_history')"])
    const conn = await connect('narrow')
    await expect(linkAs(conn, newSecret())).rejects.toMatchObject({code: 'E_REPLICA_STATEMENT_HISTORY', message: expect.stringContaining('(events_statements_history_long ON)')})
    await server.execute(["UPDATE performance_schema.setup_consumers SET ENABLED = 'NO' WHERE NAME LIKE 'events_statements%'"])
    const secret = newSecret()
    await linkAs(conn, secret)
    expect(await server.query<unknown[]>('SHOW SLAVE STATUS')).toHaveLength(1)
    expect(await seen(secret)).toEqual([])
  })

  it('links as that account when thread instrumentation is off globally: the consumers then keep nothing', async () => {
    await server.execute(["UPDATE performance_schema.setup_consumers SET ENABLED = 'NO' WHERE NAME = 'thread_instrumentation'"])
    const conn = await connect('narrow')
    const secret = newSecret()
    await linkAs(conn, secret)
    expect(await seen(secret)).toEqual([])
  })

  it('links as an account given only UPDATE on performance_schema.threads, as the refusal suggests', async () => {
    const conn = await connect('granted')
    const secret = newSecret()
    await linkAs(conn, secret)
    expect(await server.query<unknown[]>('SHOW SLAVE STATUS')).toHaveLength(1)
    expect(await seen(secret)).toEqual([])
    expect(await instrumented(conn)).toBe('YES')
  })

  it('leaves a session that setup_actors left uninstrumented as it was', async () => {
    const conn = await connect('admin')
    await conn.query("UPDATE performance_schema.threads SET INSTRUMENTED = 'NO' WHERE PROCESSLIST_ID = CONNECTION_ID()")
    const secret = newSecret()
    await linkAs(conn, secret)
    expect(await instrumented(conn)).toBe('NO')
    expect(await seen(secret)).toEqual([])
  })
})
