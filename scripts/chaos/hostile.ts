/**
 * Group 6, a hostile source: a source account with CREATE ROUTINE, TRIGGER, EVENT and CREATE VIEW
 * writes objects whose bodies mix quotes, comments, delimiters and text that looks like SQL
 * (sandbox/hostile-objects.ts, seeded), in a database and a table with hostile names. `datain
 * start` must copy them with both engines (the parallel copy and `--parallel 1`), within a time
 * bound, with every body byte-identical on the replica, events disabled there, and nothing else
 * created: not one account, database or table more, no server variable changed but the one datain
 * documents (log_bin_trust_function_creators).
 */
import {quoteIdentifier} from '../../src/lib/sql.js'
import {BODY_QUERIES, hostileObjects} from '../../sandbox/hostile-objects.js'
import {cleanFailureProblem, datain, dispose, Group, newTargetEnv, prng, replicaDiff, type Env} from './lib.js'

export const HOSTILE_DATABASE = `chaos ;; h'o"s\`t /*!50000 x*/ -- ü✓`
const TABLE = `t ;; '"\` #`
const WATCHED_VARIABLES = ['read_only', 'general_log', 'event_scheduler', 'sql_mode', 'gtid_slave_pos', 'local_infile', 'require_secure_transport']

type Server = Env['sandbox']['source']['server']

export async function hostileGroup(o: {seed: number; objects: number; engines?: string[][]; env?: Env; target?: 'azure-mariadb' | 'mariadb'}): Promise<Group> {
  const group = new Group('hostile')
  const engines = o.engines ?? [[], ['--parallel', '1']]
  let copied = 0
  let identical = 0
  for (const engine of engines) {
    const label = engine.length === 0 ? 'parallel copy' : engine.join(' ')
    let e: Env | undefined
    try {
      e = o.env ?? (await newTargetEnv(o.target, {sampleRows: 50}))
      const objects = await createHostileSource(e.sandbox.source.server, o.seed, o.objects)
      const before = await replicaWorld(e.sandbox.replica.server)
      const init = await datain(['init', '--databases', HOSTILE_DATABASE], e.env)
      if (!group.check(`${label}: init`, init.exitCode === 0, init.stderr + init.stdout.slice(-1500))) continue
      const started = Date.now()
      const start = await datain(['start', ...engine], e.env, 300_000)
      const ok = group.check(
        `${label}: start copies ${objects} hostile objects (${Math.round((Date.now() - started) / 1000)} s)`,
        start.exitCode === 0,
        cleanFailureProblem(start, 0) ?? start.stderr.slice(-2000),
      )
      if (!ok) continue
      copied += objects
      const bodies = await bodiesDiff(e.sandbox.source.server, e.sandbox.replica.server)
      if (group.check(`${label}: every body byte-identical on the replica`, bodies.length === 0, bodies.slice(0, 5).join('\n'))) identical += objects
      const events = await enabledEventsOnReplica(e.sandbox.replica.server)
      group.check(`${label}: no event enabled on the replica (DISABLE ON SLAVE)`, events.length === 0, events.join(', '))
      const after = await replicaWorld(e.sandbox.replica.server)
      group.check(`${label}: nothing else created or changed on the replica`, worldProblems(before, after).length === 0, worldProblems(before, after).join('\n'))
      const diff = await replicaDiff(e.sandbox, 120, [HOSTILE_DATABASE])
      group.check(`${label}: replica identical to the source`, diff === undefined, diff)
    } catch (error) {
      group.check(`${label}: ran`, false, (error as Error)?.stack ?? String(error))
    } finally {
      if (!o.env) await dispose(e)
    }
  }
  group.summary = `hostile: ${copied} objects copied, ${identical} byte-identical, seed ${o.seed}`
  return group
}

/** The hostile database, its table with a few rows, and `count` objects; returns how many objects. */
async function createHostileSource(source: Server, seed: number, count: number): Promise<number> {
  const db = quoteIdentifier(HOSTILE_DATABASE)
  const conn = await source.connectAsRoot()
  try {
    await conn.query(`CREATE DATABASE ${db}`)
    await conn.query(`USE ${db}`)
    await conn.query(`CREATE TABLE ${quoteIdentifier(TABLE)} (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB`)
    await conn.query(`INSERT INTO ${quoteIdentifier(TABLE)} VALUES (1, ';;'), (2, 'SET GLOBAL read_only = ON;'), (3, '\\n/*!50000 x */')`)
    const objects = hostileObjects(prng(seed), count, TABLE)
    // The event that made mariadb-dump 10.11 spin forever: `;;` in its body.
    objects.push({
      kind: 'EVENT',
      name: 'event with ;; in its body',
      sqlMode: 'NO_AUTO_VALUE_ON_ZERO',
      sql: "CREATE EVENT `event with ;; in its body` ON SCHEDULE EVERY 1 DAY STARTS '2031-01-01 00:00:00' DO BEGIN SET @a = ';;'; SET @b = ';;\\n;;'; END",
    })
    for (const object of objects) {
      await conn.query('SET SESSION sql_mode = ?', [object.sqlMode])
      await conn.query(object.sql)
    }
    return objects.length
  } finally {
    await conn.end()
  }
}

async function bodies(server: Server): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const q of BODY_QUERIES) {
    for (const row of await server.query<Array<{k: string; body: string; mode: string}>>(q.sql, [HOSTILE_DATABASE])) {
      out.set(`${q.kind} ${row.k}`, `${row.body} (${row.mode})`)
    }
  }
  return out
}

/** What differs between the source's objects and the replica's: missing, extra, or another body or sql_mode. */
async function bodiesDiff(source: Server, replica: Server): Promise<string[]> {
  const mine = await bodies(source)
  const theirs = await bodies(replica)
  const problems: string[] = []
  for (const [key, body] of mine) {
    if (!theirs.has(key)) problems.push(`${key}: missing on the replica`)
    else if (theirs.get(key) !== body) problems.push(`${key}: body differs\n  source  ${body.slice(0, 300)}\n  replica ${theirs.get(key)!.slice(0, 300)}`)
  }
  for (const key of theirs.keys()) if (!mine.has(key)) problems.push(`${key}: on the replica only`)
  return problems
}

async function enabledEventsOnReplica(replica: Server): Promise<string[]> {
  const rows = await replica.query<Array<{n: string}>>("SELECT EVENT_NAME AS n FROM information_schema.EVENTS WHERE STATUS = 'ENABLED'")
  return rows.map((r) => r.n)
}

interface ReplicaWorld {
  accounts: string[]
  databases: string[]
  tables: string[]
  variables: Record<string, string>
}

async function replicaWorld(replica: Server): Promise<ReplicaWorld> {
  const accounts = await replica.query<Array<{a: string}>>("SELECT CONCAT(User, '@', Host, ' ', Priv) AS a FROM mysql.global_priv ORDER BY a")
  const grants = await replica.query<Array<{a: string}>>(
    "SELECT CONCAT(GRANTEE, ' ', TABLE_SCHEMA, ' ', PRIVILEGE_TYPE) AS a FROM information_schema.SCHEMA_PRIVILEGES ORDER BY a",
  )
  const databases = await replica.query<Array<{d: string}>>('SELECT SCHEMA_NAME AS d FROM information_schema.SCHEMATA ORDER BY d')
  const tables = await replica.query<Array<{t: string}>>(
    "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME, ' ', TABLE_TYPE) AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema', 'mysql', 'sys') ORDER BY t",
  )
  const variables: Record<string, string> = {}
  for (const name of WATCHED_VARIABLES) {
    const [row] = await replica.query<Array<{v: unknown}>>(`SELECT @@global.${name} AS v`)
    variables[name] = String(row?.v)
  }
  return {accounts: [...accounts, ...grants].map((r) => r.a), databases: databases.map((r) => r.d), tables: tables.map((r) => r.t), variables}
}

/** The replica after the copy may hold the hostile database and its table; nothing else may differ. */
function worldProblems(before: ReplicaWorld, after: ReplicaWorld): string[] {
  const problems: string[] = []
  const added = (a: string[], b: string[]) => b.filter((x) => !a.includes(x))
  const removed = (a: string[], b: string[]) => a.filter((x) => !b.includes(x))
  if (added(before.accounts, after.accounts).length + removed(before.accounts, after.accounts).length > 0) {
    problems.push(`accounts or grants changed: +${added(before.accounts, after.accounts).join(', ')} -${removed(before.accounts, after.accounts).join(', ')}`)
  }
  const extraDatabases = added(before.databases, after.databases).filter((d) => d !== HOSTILE_DATABASE)
  if (extraDatabases.length > 0 || removed(before.databases, after.databases).length > 0) problems.push(`databases changed: +${extraDatabases.join(', ')}`)
  const expected = [`${HOSTILE_DATABASE}.${TABLE} BASE TABLE`]
  const extraTables = added(before.tables, after.tables).filter((t) => !expected.includes(t) && !t.startsWith(`${HOSTILE_DATABASE}.`))
  if (extraTables.length > 0) problems.push(`tables created elsewhere: ${extraTables.join(', ')}`)
  for (const [name, value] of Object.entries(before.variables)) {
    if (name !== 'gtid_slave_pos' && after.variables[name] !== value) problems.push(`@@global.${name} was ${value}, is ${after.variables[name]}`)
  }
  return problems
}
