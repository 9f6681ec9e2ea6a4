import {readFileSync} from 'node:fs'
import {mkdtemp, readdir, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import type {Connection} from 'mariadb'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {tableFingerprints} from '../../sandbox/table-fingerprints.js'
import {benchmarkStatements, sampleDataObjects} from '../../sandbox/sample-data.js'
import {DatainError} from '../../src/lib/errors.js'
import {connectTo} from '../../src/lib/mariadb.js'
import type {SnapshotOutput} from '../../src/steps/snapshot-run.js'
import {snapshotStep} from '../../src/steps/snapshot.js'
import {allowLoopback} from '../helpers/preflight.js'
import {type TestStepContext, testStepContext} from './step-context.js'

const SAMPLE_ROWS = 20_000
/** Rows of a second database, `bench`: the copy then lasts a few seconds, long enough to write or abort during it. */
const BENCH_ROWS = 150_000

let sandbox: Sandbox
const homes: string[] = []
const open: TestStepContext[] = []

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: SAMPLE_ROWS})
  await sandbox.source.server.execute(benchmarkStatements({tables: 1, rows: BENCH_ROWS}))
  allowLoopback(sandbox)
})

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((t) => t.close()))
})

afterAll(async () => {
  await sandbox?.stop()
  await Promise.all(homes.map((h) => rm(h, {recursive: true, force: true})))
})

async function baseContext(options: Omit<Parameters<typeof testStepContext>[1], 'home'> & {home?: string} = {}): Promise<TestStepContext> {
  let home = options.home
  if (!home) {
    home = await mkdtemp(path.join(tmpdir(), 'datain-snapshot-test-'))
    homes.push(home)
  }
  const t = await testStepContext(sandbox, {...options, home})
  open.push(t)
  return t
}

async function expectIdentical(database: string): Promise<void> {
  const source = await tableFingerprints(sandbox.source.server, [database])
  expect(Object.keys(source).length).toBeGreaterThan(0)
  expect(await tableFingerprints(sandbox.replica.server, [database]), database).toEqual(source)
}

interface Child {
  pid: number
  comm: string
  argv: string[]
}

/** This process's children, from /proc, with their argv. */
async function children(): Promise<Child[]> {
  const found: Child[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid !== process.pid) continue
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').filter(Boolean)
      found.push({pid: Number(entry), comm, argv})
    } catch {
      // exited meanwhile
    }
  }
  return found
}

const isClientTool = (c: Child) => /^(mariadb|mariadb-dump|mysql|mysqldump)$/.test(c.comm)

/** Collects the client tools this process runs while `work` runs, polling /proc. */
async function watchingChildren<T>(work: () => Promise<T>): Promise<{result: PromiseSettledResult<T>; seen: Map<number, Child>}> {
  const seen = new Map<number, Child>()
  let running = true
  const poll = (async () => {
    while (running) {
      for (const c of await children()) if (isClientTool(c) && c.argv.length > 0) seen.set(c.pid, c)
      await sleep(20)
    }
  })()
  const [result] = await Promise.allSettled([work()])
  running = false
  await poll
  return {result: result!, seen}
}

function unwrap<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason
  return result.value
}

async function replicaAdmin(): Promise<Connection> {
  return connectTo('replica', {
    host: sandbox.replica.host,
    port: sandbox.replica.port,
    user: sandbox.replica.user,
    password: sandbox.replica.password,
    tls: {ca: readFileSync(sandbox.replica.sslCa, 'utf8'), verify: true},
  })
}

async function dropOnReplica(...databases: string[]): Promise<void> {
  await sandbox.replica.server.execute(databases.map((d) => `DROP DATABASE IF EXISTS \`${d}\``))
}

function report(label: string, output: SnapshotOutput): void {
  const mb = output.bytes / 1024 / 1024
  console.log(
    `[snapshot] ${label}: ${mb.toFixed(1)} MB, ${output.rows} rows in ${output.seconds.toFixed(2)} s = ` +
      `${(mb / output.seconds).toFixed(1)} MB/s, ${Math.round(output.rows / output.seconds)} rows/s`,
  )
}

/** Both copy engines: the parallel one datain uses by default, and the stream of mariadb-dump that `--parallel 1` keeps. */
const ENGINES = [
  {engine: 'parallel', parallel: undefined},
  {engine: 'stream', parallel: 1},
] as const

describe.each(ENGINES)('the snapshot step ($engine)', ({engine, parallel}) => {
  const context = (options: Parameters<typeof baseContext>[0] = {}) => baseContext({parallel, ...options})

  it('copies every database completely, with the view, trigger, procedure, function and event, and no password in any argv', async () => {
    await dropOnReplica('shop', 'bench')
    // As the sandbox starts (the other engine's pass may have switched it on).
    await sandbox.replica.server.execute(['SET GLOBAL log_bin_trust_function_creators = OFF'])
    const t = await context()
    const {result, seen} = await watchingChildren(() => snapshotStep.run(t.ctx))
    const output = unwrap(result) as SnapshotOutput
    report(`shop (${SAMPLE_ROWS} orders) + bench (${BENCH_ROWS} rows)`, output)

    // The stream ran both tools, neither with a secret on its command line, the loader unable to LOAD DATA LOCAL; the parallel copy runs none.
    const tools = [...seen.values()]
    if (engine === 'stream') expect(new Set(tools.map((c) => c.comm))).toEqual(new Set(['mariadb-dump', 'mariadb']))
    else expect(tools).toEqual([])
    for (const c of tools) if (c.comm === 'mariadb') expect(c.argv).toContain('--local-infile=0')
    for (const c of tools) {
      const argv = c.argv.join(' ')
      expect(c.argv[1]).toMatch(/^--defaults-extra-file=/)
      for (const secret of [sandbox.source.password, sandbox.replica.password]) {
        expect(argv).not.toContain(secret)
        expect(argv).not.toContain(secret.slice(4))
      }
    }

    await expectIdentical('shop')
    await expectIdentical('bench')
    const objects = sampleDataObjects()
    const [totalRows] = await sandbox.source.server.query<Array<{n: bigint}>>(
      `SELECT (SELECT COUNT(*) FROM shop.customers) + (SELECT COUNT(*) FROM shop.products) + (SELECT COUNT(*) FROM shop.orders)
            + (SELECT COUNT(*) FROM shop.order_items) + (SELECT COUNT(*) FROM shop.daily_sales) + (SELECT COUNT(*) FROM bench.sbtest1) AS n`,
    )
    expect(output).toMatchObject({
      databases: ['bench', 'shop'],
      createdDatabases: ['bench', 'shop'],
      rows: Number(totalRows!.n),
      parametersChanged: [{name: 'log_bin_trust_function_creators', previous: 'OFF', value: 'ON', changedByDatain: true}],
      definersRemoved: 5,
      eventsDisabledOnSlave: 1,
    })
    expect(output.binlogFile).toMatch(/^binlog\.\d+$/)
    expect(Number.isSafeInteger(output.binlogPosition)).toBe(true)
    const [gtid] = await sandbox.source.server.query<Array<{g: string}>>('SELECT BINLOG_GTID_POS(?, ?) AS g', [output.binlogFile, output.binlogPosition])
    expect(output.gtidPosition).toBe(gtid!.g)
    expect(output.bytes).toBeGreaterThan(20_000_000)
    // What a crash in the middle would have needed was recorded.
    expect((await t.store.readCheckpoint()).steps.snapshot?.output).toMatchObject({createdDatabases: ['bench', 'shop']})
    // Once a second while copying, with an ETA and the table going by; and once at the end.
    expect(t.statuses.length).toBeGreaterThan(1)
    expect(t.statuses[0]).toMatch(/^Copying: [\d.]+ [kM]B, [\d,]+ of ~[\d,]+ rows \(\d+%\), [\d.]+ [kM]B\/s, [\d,]+ rows\/s, ETA [\d.]+ (s|min|h)( \d+ min)?, (shop|bench)\.\w+( \+\d+)?$/)
    expect(t.statuses.at(-1)).toMatch(/^Copying: [\d.]+ MB, [\d,]+ of ~[\d,]+ rows \(100%\), [\d.]+ MB\/s, [\d,]+ rows\/s$/)
    expect(t.infos.join('\n')).toContain('Set log_bin_trust_function_creators=ON on the replica (it was OFF).')
    expect(t.infos.join('\n')).toContain("Routines, triggers, events and views: 5 DEFINER clauses removed (the replica's admin defines them), 1 event made DISABLE ON SLAVE.")

    // The objects are there, owned by the replica's admin, and work.
    const admin = `${sandbox.replica.account}@%`
    const replica = sandbox.replica.server
    const routines = await replica.query<Array<{n: string; t: string; d: string}>>(
      "SELECT ROUTINE_NAME AS n, ROUTINE_TYPE AS t, DEFINER AS d FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'shop' ORDER BY 1",
    )
    expect(routines.map((r) => [r.n, r.t, r.d])).toEqual([
      [objects.functions[0], 'FUNCTION', admin],
      [objects.procedures[0], 'PROCEDURE', admin],
    ])
    const [view] = await replica.query<Array<{d: string; s: string}>>("SELECT DEFINER AS d, SECURITY_TYPE AS s FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'shop'")
    expect(view).toEqual({d: admin, s: 'DEFINER'})
    const [trigger] = await replica.query<Array<{n: string; d: string}>>("SELECT TRIGGER_NAME AS n, DEFINER AS d FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'")
    expect(trigger).toEqual({n: objects.triggers[0], d: admin})
    // The event exists on the replica but does not run there: it runs on the source and replicates.
    const [event] = await replica.query<Array<{n: string; s: string; d: string}>>("SELECT EVENT_NAME AS n, STATUS AS s, DEFINER AS d FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'shop'")
    expect(event).toEqual({n: objects.events[0], s: 'SLAVESIDE_DISABLED', d: admin})

    const conn = await replicaAdmin()
    try {
      const [viewRow] = await conn.query('SELECT COUNT(*) AS n, SUM(revenue) AS r FROM shop.customer_order_summary')
      const [sourceView] = await sandbox.source.server.query<Array<{n: bigint; r: string}>>('SELECT COUNT(*) AS n, SUM(revenue) AS r FROM shop.customer_order_summary')
      expect([viewRow.n, viewRow.r]).toEqual([Number(sourceView!.n), Number(sourceView!.r)])
      const [value] = await conn.query('SELECT shop.customer_lifetime_value(7) AS v')
      const [sourceValue] = await sandbox.source.server.query<Array<{v: string}>>('SELECT shop.customer_lifetime_value(7) AS v')
      expect(value.v).toBe(Number(sourceValue!.v))
      // The procedure places an order; the trigger adds its line to the order's total.
      await conn.query('CALL shop.place_order(1, 1, 3, @order_id)')
      const [placed] = await conn.query('SELECT o.total = 3 * p.price AS ok FROM shop.orders o JOIN shop.products p ON p.id = 1 WHERE o.id = @order_id')
      expect(placed.ok).toBe(1)
    } finally {
      await conn.end()
    }
  })

  it('records coordinates so exact that writes made during the copy replicate exactly once', async () => {
    await dropOnReplica('shop', 'bench')
    const writer = await sandbox.source.server.connectAsRoot({database: 'shop'})
    let writing = true
    let writes = 0
    let inserts = 0
    // Inserts, updates and deletes on a table of each database, one transaction each, for the whole copy.
    const load = (async () => {
      for (let i = 1; writing; i++) {
        await writer.query("INSERT INTO orders (customer_id, status, total, placed_at, `delivery note`) VALUES (?, 'pending', 0, NOW(6), ?)", [1 + (i % 100), `during ${engine} copy ${i}`])
        inserts++
        // The trigger adds the line to the order's total: on the source only, the replica gets its row.
        await writer.query('INSERT INTO order_items (order_id, `order`, product_id, quantity, unit_price) VALUES (LAST_INSERT_ID(), 1, ?, 2, 9.99)', [1 + (i % 50)])
        await writer.query("UPDATE orders SET status = 'paid', total = total + 1 WHERE id = ?", [1 + ((i * 7919) % SAMPLE_ROWS)])
        // Orders 3k+1 have no lines: deleting them touches one table only.
        await writer.query('DELETE FROM orders WHERE id = ?', [SAMPLE_ROWS - 3 * i + 1])
        await writer.query('UPDATE bench.sbtest1 SET k = k + 1, c = CONCAT(?, SUBSTRING(c, 12)) WHERE id = ?', [String(i).padStart(11, '0'), 1 + ((i * 104729) % BENCH_ROWS)])
        await writer.query('DELETE FROM bench.sbtest1 WHERE id = ?', [BENCH_ROWS - i])
        await writer.query("INSERT INTO bench.sbtest1 (k, c, pad) VALUES (?, 'during copy', ?)", [i, String(i)])
        writes += 7
      }
    })()
    try {
      await sleep(200)
      const before = writes
      const t = await context()
      const output = (await snapshotStep.run(t.ctx)) as SnapshotOutput
      report('shop + bench under writes', output)
      const during = writes - before
      await sleep(300)
      writing = false
      await load
      expect(during).toBeGreaterThan(1000)

      // Link the replica where the copy ends, as the link step will, and let it catch up.
      const password = `r'e"p$l\\${Date.now()}`
      await sandbox.source.server.query("DROP USER IF EXISTS 'snap_repl'@'%'")
      await sandbox.source.server.query("CREATE USER 'snap_repl'@'%' IDENTIFIED BY ?", [password])
      await sandbox.source.server.query("GRANT REPLICATION SLAVE ON *.* TO 'snap_repl'@'%' REQUIRE SSL")
      const conn = await replicaAdmin()
      try {
        await conn.execute('CALL mysql.az_replication_change_master_with_gtid(?, ?, ?, ?, ?, ?)', [
          '127.0.0.1',
          'snap_repl',
          password,
          sandbox.source.port,
          output.gtidPosition,
          readFileSync(sandbox.source.sslCa, 'utf8'),
        ])
        await conn.query('CALL mysql.az_replication_start')
        const [source] = await sandbox.source.server.query<Array<{target: string}>>('SELECT @@gtid_binlog_pos AS target')
        await waitForReplica(conn, source!.target)
        await expectIdentical('shop')
        await expectIdentical('bench')
        const [copied] = await sandbox.replica.server.query<Array<{n: bigint}>>('SELECT COUNT(*) AS n FROM shop.orders WHERE `delivery note` LIKE ?', [`during ${engine} copy %`])
        expect(Number(copied!.n)).toBe(inserts)
      } finally {
        await conn.query('CALL mysql.az_replication_stop').catch(() => {})
        await conn.query('CALL mysql.az_replication_remove_master').catch(() => {})
        await conn.end()
      }
    } finally {
      writing = false
      await load.catch(() => {})
      await writer.end()
    }
  })

  it('when killed in the middle, leaves what it created recorded; the rerun drops exactly that and copies afresh (stream) or resumes it (parallel)', async () => {
    await dropOnReplica('shop', 'bench')
    // The replica's own database, which datain must never touch.
    const conn = await replicaAdmin()
    await conn.query('CREATE DATABASE IF NOT EXISTS keep_me')
    await conn.query('CREATE TABLE IF NOT EXISTS keep_me.t (id INT PRIMARY KEY)')
    await conn.query('INSERT IGNORE INTO keep_me.t VALUES (42)')
    await conn.end()

    const controller = new AbortController()
    const first = await context({signal: controller.signal, settings: {databases: ['shop', 'bench']}})
    const {result, seen} = await watchingChildren(async () => {
      const running = snapshotStep.run(first.ctx)
      // Abort once the loader writes into bench (stream: shop is copied, bench is not yet); the
      // process list tells, where a COUNT(*) would wait for the loader's LOCK TABLES.
      const loading =
        engine === 'stream'
          ? "DB = 'bench' AND INFO LIKE 'INSERT INTO `sbtest1`%'"
          : "INFO LIKE 'LOAD DATA LOCAL INFILE % INTO TABLE `bench`.`sbtest1`%'"
      for (;;) {
        const [row] = await sandbox.replica.server.query<Array<{n: bigint}>>(`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ${loading}`)
        if (Number(row!.n) > 0) break
        await sleep(5)
      }
      controller.abort()
      return running
    })
    expect(result.status).toBe('rejected')
    const error = (result as PromiseRejectedResult).reason
    expect(error).toBeInstanceOf(DatainError)
    expect(error).toMatchObject({code: 'E_INTERRUPTED'})
    // Both children were ended, not left behind (the parallel copy had not started its tools yet,
    // and its connections are gone: the replica is loading nothing).
    if (engine === 'stream') expect(seen.size).toBeGreaterThanOrEqual(2)
    expect((await children()).filter(isClientTool)).toEqual([])
    for (const pid of seen.keys()) expect(() => process.kill(pid, 0)).toThrow()
    if (engine === 'parallel') {
      for (let i = 0; ; i++) {
        const [row] = await sandbox.replica.server.query<Array<{n: bigint}>>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'LOAD DATA%'")
        if (Number(row!.n) === 0) break
        expect(i, 'LOAD DATA still running on the replica after the abort').toBeLessThan(100)
        await sleep(50)
      }
    }

    const [partial] = await sandbox.replica.server.query<Array<{n: bigint}>>('SELECT COUNT(*) AS n FROM bench.sbtest1')
    expect(Number(partial!.n)).toBeLessThan(BENCH_ROWS)
    const previous = await first.finish('interrupted')
    expect(previous.output).toMatchObject({createdDatabases: ['shop', 'bench']})
    await first.close()

    const second = await context({home: first.store.dir.split('/profiles/')[0], settings: {databases: ['shop', 'bench']}, previous})
    const output = (await snapshotStep.run(second.ctx)) as SnapshotOutput
    report('shop + bench, rerun after an abort', output)
    if (engine === 'stream') {
      expect(second.infos[0]).toBe('Dropping what an unfinished copy left on the replica: shop, bench.')
    } else {
      // The parallel copy recorded its tables: it resumes, checking what it loaded instead of copying it again.
      expect(second.infos[0]).toMatch(/^Resuming the copy an unfinished run left in shop, bench: /)
      expect(output.resumed).toBeDefined()
    }
    expect(output.createdDatabases).toEqual(['shop', 'bench'])
    // Still datain's change, from the first attempt of an earlier test: not forgotten.
    expect(output.parametersChanged).toEqual([{name: 'log_bin_trust_function_creators', previous: 'ON', value: 'ON', changedByDatain: false}])
    await expectIdentical('shop')
    await expectIdentical('bench')
    const [kept] = await sandbox.replica.server.query<Array<{id: number}>>('SELECT id FROM keep_me.t')
    expect(kept).toEqual({id: 42})
  })

  it('fails with the replica’s own words when it refuses an object; the rerun copies afresh', async () => {
    await dropOnReplica('shop', 'bench')
    const admin = `'${sandbox.replica.account}'@'%'`
    // The function comes after shop's rows: the load fails in the middle of the copy.
    await sandbox.replica.server.execute([`REVOKE CREATE ROUTINE ON *.* FROM ${admin}`])
    const first = await context({settings: {databases: ['shop', 'bench']}})
    let error: unknown
    try {
      error = await snapshotStep.run(first.ctx).catch((e: unknown) => e)
    } finally {
      await sandbox.replica.server.execute([`GRANT CREATE ROUTINE ON *.* TO ${admin}`])
    }
    expect(error).toBeInstanceOf(DatainError)
    expect(error).toMatchObject({code: 'E_SNAPSHOT_LOAD', exitCode: 1})
    expect((error as Error).message).toMatch(/^Creating the procedure shop\.place_order on the replica failed: Access denied/)
    expect((await children()).filter(isClientTool)).toEqual([])
    const [orders] = await sandbox.replica.server.query<Array<{n: bigint}>>('SELECT COUNT(*) AS n FROM shop.orders')
    expect(Number(orders!.n)).toBeGreaterThan(0)
    const previous = await first.finish('failed')
    expect(previous.output).toMatchObject({createdDatabases: ['shop', 'bench']})
    await first.close()

    const second = await context({home: first.store.dir.split('/profiles/')[0], settings: {databases: ['shop', 'bench']}, previous})
    await snapshotStep.run(second.ctx)
    await expectIdentical('shop')
    await expectIdentical('bench')
  })

  it('fails with the source’s own words when a database cannot be read, and leaves no tool running', async () => {
    await dropOnReplica('shop', 'bench')
    const t = await context({settings: {databases: ['no_such_db']}})
    const error = await snapshotStep.run(t.ctx).catch((e: unknown) => e)
    expect(error).toMatchObject({code: 'E_SNAPSHOT_DUMP', exitCode: 1})
    // Both engines read the database's definition through the connector before any tool starts.
    expect((error as Error).message).toContain("Reading the definition of the database no_such_db from the source failed: Unknown database 'no_such_db'")
    expect((await children()).filter(isClientTool)).toEqual([])
    expect((await t.store.readCheckpoint()).steps.snapshot?.output).toMatchObject({createdDatabases: ['no_such_db']})
  })

  it('never overwrites a selected database it did not create, unless this run says --replace-databases, which replaces it', async () => {
    await dropOnReplica('shop', 'bench')
    await sandbox.replica.server.execute(['CREATE DATABASE shop', 'CREATE TABLE shop.mine (id INT PRIMARY KEY)'])
    const refused = await context({settings: {databases: ['shop']}})
    const error = await snapshotStep.run(refused.ctx).catch((e: unknown) => e)
    expect(error).toMatchObject({code: 'E_REPLICA_NOT_EMPTY', exitCode: 1})
    expect((error as Error).message).toContain('The replica already has a database named shop, which datain did not create')
    expect((error as Error).message).toContain("'datain start --replace-databases'")
    expect((error as Error).message).not.toContain('--force')
    expect((await refused.store.readCheckpoint()).steps.snapshot?.output).toBeUndefined()
    const [mine] = await sandbox.replica.server.query<Array<{n: bigint}>>("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'mine'")
    expect(Number(mine!.n)).toBe(1)

    const forced = await context({settings: {databases: ['shop']}, run: {replaceDatabases: true}})
    const output = (await snapshotStep.run(forced.ctx)) as SnapshotOutput
    expect(output.createdDatabases).toEqual(['shop'])
    await expectIdentical('shop')
    const [gone] = await sandbox.replica.server.query<Array<{n: bigint}>>("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'mine'")
    expect(Number(gone!.n)).toBe(0)
  })

  it('plans the copy with the password masked and changes nothing', async () => {
    const t = await context({settings: {databases: ['shop']}})
    const plan = await snapshotStep.plan(t.ctx)
    const text = plan.map((a) => `${a.on} ${a.kind} ${a.text}`).join('\n')
    if (engine === 'stream') {
      expect(text).toContain('local process mariadb-dump --defaults-extra-file=<private options file: password=***>')
      expect(text).toContain('--single-transaction --master-data=2 --gtid --no-create-info --no-create-db --skip-routines --skip-events --skip-triggers --hex-blob --quick')
      expect(text).toContain("--databases -- shop | <datain's check> | mariadb --defaults-extra-file=<private options file: password=***>")
      expect(text).toContain('--local-infile=0')
      expect(text).toContain('replica sql SELECT SETVAL(')
    } else {
      expect(text).toContain('source sql BACKUP STAGE START; BACKUP STAGE BLOCK_COMMIT (FLUSH TABLES WITH READ LOCK before 10.4); START TRANSACTION WITH CONSISTENT SNAPSHOT on')
      expect(text).toContain('BACKUP STAGE BLOCK_COMMIT')
      expect(text).toContain("replica sql LOAD DATA LOCAL INFILE 'datain-rows' INTO TABLE … CHARACTER SET binary")
      expect(text).not.toContain('local process')
    }
    expect(text).toContain('replica sql CREATE DATABASE … / CREATE TABLE … / CREATE SEQUENCE …  -- as SHOW CREATE on the source')
    expect(text).toContain('replica sql CREATE PROCEDURE / FUNCTION / VIEW / TRIGGER / EVENT …  -- after the rows')
    expect(text).toMatch(/azure arm PUT https:\/\/127\.0\.0\.1:\d+\/subscriptions\/.+\/configurations\/log_bin_trust_function_creators\?api-version=2018-06-01/)
    expect(text).toContain('DEFINER clauses removed')
    for (const secret of [sandbox.source.password, sandbox.replica.password]) expect(text).not.toContain(secret)
  })
})

describe('the snapshot step when the replica refuses LOAD DATA LOCAL', () => {
  it('copies as one stream instead, saying why, and the copy is identical', async () => {
    await dropOnReplica('shop', 'bench')
    await sandbox.replica.server.execute(['SET GLOBAL local_infile = OFF'])
    try {
      const t = await baseContext({settings: {databases: ['shop']}})
      const output = (await snapshotStep.run(t.ctx)) as SnapshotOutput
      expect(output.engine).toBe('stream')
      expect(t.infos.join('\n')).toContain('Copying as one stream (--parallel 1): the replica’s server parameter local_infile is OFF')
      await expectIdentical('shop')
    } finally {
      await sandbox.replica.server.execute(['SET GLOBAL local_infile = ON'])
      await dropOnReplica('shop')
    }
  })
})

async function waitForReplica(conn: Connection, target: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const [status] = await conn.query('SHOW SLAVE STATUS')
    if (status?.Last_SQL_Errno || status?.Last_IO_Errno) {
      throw new Error(`replication broke: ${status.Last_SQL_Errno} ${status.Last_SQL_Error} ${status.Last_IO_Errno} ${status.Last_IO_Error}`)
    }
    const [{pos}] = await conn.query('SELECT @@gtid_slave_pos AS pos')
    if (pos === target) return
    if (Date.now() > deadline) throw new Error(`replica at ${pos}, source at ${target}: ${JSON.stringify(status, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`)
    await sleep(100)
  }
}
