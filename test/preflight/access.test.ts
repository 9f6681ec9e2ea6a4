import {readFileSync} from 'node:fs'
import {execa} from 'execa'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, SOURCE_ADMIN, startSandbox} from '../../sandbox/sandbox.js'
import {estimateCopySeconds} from '../../src/preflight/access/binlog-retention.js'
import {accessChecks} from '../../src/preflight/access/index.js'
import type {CheckResult, OwnWork, PreflightSettings} from '../../src/preflight/check.js'
import {openPreflight} from '../../src/preflight/context.js'
import {runChecks} from '../../src/preflight/run.js'
import {allowLoopback, blockLoopback, DEFAULT_SETTINGS, openSandboxPreflight} from '../helpers/preflight.js'

// One sandbox for the whole file: each test creates its condition as root and the cleanups put it back.
let sandbox: Sandbox
let adminGrants: string[]
const cleanups: Array<() => Promise<unknown>> = []

const ADMIN = `'${SOURCE_ADMIN}'@'%'`
const APP = "'app'@'%'"

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 200})
  allowLoopback(sandbox)
  const rows = await sandbox.source.server.query<Array<Record<string, string>>>(`SHOW GRANTS FOR ${ADMIN}`)
  adminGrants = rows.map((row) => Object.values(row)[0]!)
})

afterAll(async () => {
  await sandbox?.stop()
})

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

const source = (statements: string[]) => sandbox.source.server.execute(statements)
const replica = (statements: string[]) => sandbox.replica.server.execute(statements)
const later = (cleanup: () => Promise<unknown>) => cleanups.push(cleanup)

/** Gives datain_admin back exactly the grants the sandbox gave it. */
function restoreAdminGrants(): Promise<void> {
  return source([`REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${ADMIN}`, `SET DEFAULT ROLE NONE FOR ${ADMIN}`, ...adminGrants])
}

interface RunOptions {
  settings?: Partial<PreflightSettings>
  noArm?: boolean
  own?: Partial<OwnWork>
}

const ownWork = (own?: Partial<OwnWork>): OwnWork | undefined =>
  own && {replicaDatabases: [], replicationUserCreated: false, firewallRules: [], ...own}

/** Runs the access checks (or the one named) as datain would, against the sandbox. */
async function runAccess(options: RunOptions = {}, id?: string): Promise<CheckResult[]> {
  const ctx = await openSandboxPreflight(sandbox, {settings: options.settings, noArm: options.noArm, own: ownWork(options.own)})
  try {
    return await runChecks(id ? accessChecks.filter((c) => c.id === id) : accessChecks, ctx)
  } finally {
    await ctx.close()
  }
}

async function check(id: string, options: RunOptions = {}): Promise<CheckResult> {
  const [result] = await runAccess(options, id)
  expect(result?.id).toBe(id)
  return result!
}

/** The GRANT statements of a fix, run as root on the source: the fix must be valid SQL as printed. */
async function applyGrantFix(fix: string | undefined): Promise<void> {
  const statements = fix?.match(/GRANT [^;]+;/g) ?? []
  expect(statements.length).toBeGreaterThan(0)
  await source(statements.map((s) => s.slice(0, -1)))
}

/** Loads single zones into a server's time zone tables, as mariadb-tzinfo-to-sql does for one file. */
async function loadTimeZones(server: Sandbox['source']['server'], zones: string[]): Promise<void> {
  const conn = await server.connectAsRoot({database: 'mysql', multipleStatements: true})
  try {
    for (const zone of zones) {
      const {stdout} = await execa('mariadb-tzinfo-to-sql', [`/usr/share/zoneinfo/${zone}`, zone])
      await conn.query(stdout)
    }
  } finally {
    await conn.end()
  }
}

const TZ_TABLES = ['time_zone', 'time_zone_name', 'time_zone_transition', 'time_zone_transition_type', 'time_zone_leap_second']
const emptyTimeZones = (server: Sandbox['source']['server']) => server.execute(TZ_TABLES.map((t) => `TRUNCATE TABLE mysql.${t}`))

describe('the access checks on a clean sandbox', () => {
  it('fail nothing; the sample objects definer and the app account warn', async () => {
    const results = await runAccess()
    expect(results.map((r) => r.id)).toEqual([
      'source-privileges',
      'binlog-retention',
      'definers',
      'routines-need-trust',
      'sync-info-parameters',
      'time-zones',
      'accounts',
      'replication-user',
      'firewall-rules',
    ])
    const status = Object.fromEntries(results.map((r) => [r.id, r.status]))
    expect(status).toEqual({
      'source-privileges': 'pass',
      'binlog-retention': 'pass',
      definers: 'warn',
      'routines-need-trust': 'pass',
      'sync-info-parameters': 'pass',
      'time-zones': 'pass',
      accounts: 'warn',
      'replication-user': 'pass',
      'firewall-rules': 'pass',
    })
    const byId = (id: string) => results.find((r) => r.id === id)!

    expect(byId('definers').offenders).toEqual([
      `VIEW \`shop\`.\`customer_order_summary\` (DEFINER ${APP}, SQL SECURITY DEFINER)`,
      `FUNCTION \`shop\`.\`customer_lifetime_value\` (DEFINER ${APP}, SQL SECURITY DEFINER)`,
      `PROCEDURE \`shop\`.\`place_order\` (DEFINER ${APP}, SQL SECURITY DEFINER)`,
      `TRIGGER \`shop\`.\`order_items_after_insert\` (DEFINER ${APP})`,
      `EVENT \`shop\`.\`roll_up_daily_sales\` (DEFINER ${APP})`,
    ])
    expect(byId('definers').message).toContain(`'azureadmin'@'%'`)
    expect(byId('definers').message).toContain(`(${APP}: 5); the snapshot rewrites them to 'azureadmin'@'%', so on the replica all of them run with the admin's rights`)
    expect(byId('definers').fix).toContain('SQL SECURITY INVOKER')

    expect(byId('accounts').offenders).toEqual([APP])
    expect(byId('accounts').fix).toContain("run 'datain accounts'")

    expect(byId('source-privileges').message).toContain(`${ADMIN} holds every privilege`)
    expect(byId('binlog-retention').message).toMatch(/until they are purged by hand \(binlog_expire_logs_seconds=0, expire_logs_days=0\).*database `shop` takes about \d+ ms at a conservative 20 MB\/s/)
    // The hour of margin is said apart from the copy's own time (it once read "estimated at 1 h (20 MB/s plus one hour)" for 328 kB).
    expect(byId('binlog-retention').message).toContain('so replication starts within 1 h (an hour added for the steps around the copy)')
    expect(byId('binlog-retention').message).not.toContain('plus one hour')
    expect(byId('routines-need-trust').message).toBe(
      'datain will set log_bin_trust_function_creators=ON through ARM before the snapshot (now OFF), as the 1 stored function and 1 trigger in database `shop` need.',
    )
    expect(byId('sync-info-parameters').message).toMatch(/^Not needed: GTID/)
    expect(byId('replication-user').message).toContain('datain will create it')
    expect(byId('firewall-rules').message).toBe(
      "The replica has 1 firewall rule, none named like datain's that datain did not create; 'test-loopback' already covers the source's address 127.0.0.1 (an existing rule covering the address is reused).",
    )
    for (const r of results) if (r.status === 'warn' || r.status === 'fail') expect(r.fix).toBeTruthy()
  })
})

describe('source-privileges', () => {
  it('fails listing every missing privilege, and its GRANT fix as printed makes it pass', async () => {
    later(restoreAdminGrants)
    await source([`REVOKE RELOAD, BINLOG MONITOR, SHOW VIEW, EVENT ON *.* FROM ${ADMIN}`, `REVOKE GRANT OPTION ON *.* FROM ${ADMIN}`])
    const failed = await check('source-privileges')
    expect(failed.status).toBe('fail')
    expect(failed.offenders).toEqual(['BINLOG MONITOR on *.*', 'RELOAD on *.*', 'GRANT OPTION on *.*', 'SHOW VIEW on `shop`.*', 'EVENT on `shop`.*'])
    expect(failed.message).toBe(`${ADMIN} lacks 5 privileges the steps need: BINLOG MONITOR on *.*, RELOAD on *.*, GRANT OPTION on *.*, SHOW VIEW on \`shop\`.*, EVENT on \`shop\`.*.`)
    expect(failed.fix).toContain(`GRANT BINLOG MONITOR, RELOAD, REPLICATION SLAVE ON *.* TO ${ADMIN} WITH GRANT OPTION;`)
    expect(failed.fix).toContain(`GRANT SHOW VIEW, EVENT ON \`shop\`.* TO ${ADMIN};`)
    expect(failed.fix).toContain('LOCK TABLES is not needed')

    await applyGrantFix(failed.fix)
    expect((await check('source-privileges')).status).toBe('pass')
  })

  it('accepts data privileges granted on a database pattern, and asks for SELECT on mysql.proc for the routines', async () => {
    later(restoreAdminGrants)
    await source([`REVOKE SELECT, SHOW VIEW, TRIGGER, EVENT ON *.* FROM ${ADMIN}`, `GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON \`sh%\`.* TO ${ADMIN}`])
    const failed = await check('source-privileges')
    expect(failed.status).toBe('fail')
    expect(failed.offenders).toEqual(['SELECT on `mysql`.`proc`'])
    expect(failed.fix).toContain(`GRANT SELECT ON \`mysql\`.\`proc\` TO ${ADMIN};`)

    await applyGrantFix(failed.fix)
    expect((await check('source-privileges')).status).toBe('pass')
  })

  it("counts the default role's privileges (and the roles it holds), not a role that is merely granted", async () => {
    later(async () => {
      await source(['DROP ROLE IF EXISTS `datain ops`', 'DROP ROLE IF EXISTS `reload_only`'])
      await restoreAdminGrants()
    })
    await source([
      `REVOKE RELOAD, BINLOG MONITOR, CREATE USER ON *.* FROM ${ADMIN}`,
      'CREATE ROLE `reload_only`',
      'GRANT RELOAD ON *.* TO `reload_only`',
      'CREATE ROLE `datain ops`',
      'GRANT BINLOG MONITOR, CREATE USER ON *.* TO `datain ops`',
      'GRANT `reload_only` TO `datain ops`',
      `GRANT \`datain ops\` TO ${ADMIN}`,
    ])
    const failed = await check('source-privileges')
    expect(failed.status).toBe('fail')
    expect(failed.offenders).toEqual(['BINLOG MONITOR on *.*', 'RELOAD on *.*', 'CREATE USER on *.*'])

    await source([`SET DEFAULT ROLE \`datain ops\` FOR ${ADMIN}`])
    const passed = await check('source-privileges')
    expect(passed.status).toBe('pass')
    expect(passed.message).toContain('role `datain ops` active')
  })

  it('quotes a user and a database whose names hold quotes, backticks, spaces, wildcards and unicode', async () => {
    const user = `o'brien "ops" \`x\` é`
    const database = `mon_db 'été' \`q\``
    const account = `'o''brien "ops" \`x\` é'@'%'`
    later(() => source([`DROP USER IF EXISTS ${account}`, `DROP DATABASE IF EXISTS \`mon_db 'été' \`\`q\`\`\``]))
    await source([
      `CREATE USER ${account} IDENTIFIED BY 'weird-pw'`,
      `GRANT REPLICATION SLAVE ON *.* TO ${account}`,
      `CREATE DATABASE \`mon_db 'été' \`\`q\`\`\``,
      // A grant on the literal name `mon_db…` must not be confused with one on a pattern: `monXdb…` is another database.
      `GRANT SELECT ON \`monXdb 'été' \`\`q\`\`\`.* TO ${account}`,
    ])
    const open = () =>
      openPreflight({
        settings: {...DEFAULT_SETTINGS, databases: ['shop', database], useArm: false},
        source: {
          host: sandbox.source.host,
          port: sandbox.source.port,
          user,
          password: 'weird-pw',
          tls: {ca: readFileSync(sandbox.source.sslCa, 'utf8'), verify: true},
        },
        replica: {host: sandbox.replica.host, port: sandbox.replica.port, user: sandbox.replica.user, password: sandbox.replica.password, tls: {ca: readFileSync(sandbox.replica.sslCa, 'utf8'), verify: true}},
      })
    const privileges = accessChecks.find((c) => c.id === 'source-privileges')!
    let ctx = await open()
    const [failed] = await runChecks([privileges], ctx).finally(() => ctx.close())
    const db = `\`mon_db 'été' \`\`q\`\`\``
    expect(failed!.status).toBe('fail')
    expect(failed!.offenders).toEqual([
      'BINLOG MONITOR on *.*',
      'RELOAD on *.*',
      'CREATE USER on *.*',
      'GRANT OPTION on *.*',
      'SELECT on `mysql`.`proc`',
      ...['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT'].map((p) => `${p} on \`shop\`.*`),
      ...['SELECT', 'SHOW VIEW', 'TRIGGER', 'EVENT'].map((p) => `${p} on ${db}.*`),
    ])
    // `_` is a wildcard in GRANT … ON `db`.*: the fix escapes it, so the grant covers only this database.
    expect(failed!.fix).toContain(`GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON \`mon\\_db 'été' \`\`q\`\`\`.* TO ${account};`)

    await applyGrantFix(failed!.fix)
    ctx = await open()
    const [passed] = await runChecks([privileges], ctx).finally(() => ctx.close())
    expect(passed!.status).toBe('pass')
  })
})

describe('binlog-retention', () => {
  it('warns when binary logs are kept less than twice the estimated copy time, with the my.cnf fix', async () => {
    later(() => source(['SET GLOBAL binlog_expire_logs_seconds = 0']))
    await source(['SET GLOBAL binlog_expire_logs_seconds = 3600'])
    const warned = await check('binlog-retention')
    expect(warned.status).toBe('warn')
    expect(warned.message).toMatch(/^The source keeps its binary logs for only 1 h \(binlog_expire_logs_seconds=3600, expire_logs_days=0\.041667\)/)
    expect(warned.message).toMatch(/copying [\d.]+ kB in database `shop` takes about \d+ ms at a conservative 20 MB\/s, so replication starts within 1 h \(an hour added/)
    expect(warned.message).toContain('error 1236')
    expect(warned.fix).toContain('binlog_expire_logs_seconds = 86400 (1 day)')
    expect(warned.fix).toContain('SET GLOBAL binlog_expire_logs_seconds = 86400;')

    await source(['SET GLOBAL binlog_expire_logs_seconds = 2592000'])
    const passed = await check('binlog-retention')
    expect(passed.status).toBe('pass')
    expect(passed.message).toContain('for 30 d (binlog_expire_logs_seconds=2592000')
  })

  it('estimates the copy at 20 MB/s plus one hour', () => {
    expect(estimateCopySeconds(0)).toBe(3600)
    expect(estimateCopySeconds(72_000_000_000)).toBe(3600 + 3600)
  })
})

describe('definers', () => {
  it('passes when every object already names the replica admin, and warns about an invoker view of another account', async () => {
    later(() => source(['DROP DATABASE IF EXISTS `defs`']))
    await source([
      'CREATE DATABASE `defs`',
      "CREATE DEFINER = 'azureadmin'@'%' SQL SECURITY DEFINER VIEW `defs`.`mine` AS SELECT 1 AS one",
    ])
    const passed = await check('definers', {settings: {databases: ['defs']}})
    expect(passed.status).toBe('pass')
    expect(passed.message).toBe("The only view, routine, trigger or event in database `defs` already names the replica admin 'azureadmin'@'%' as definer.")

    await source(["CREATE DEFINER = 'sales'@'10.%' SQL SECURITY INVOKER VIEW `defs`.`theirs` AS SELECT 2 AS two"])
    const warned = await check('definers', {settings: {databases: ['defs']}})
    expect(warned.status).toBe('warn')
    expect(warned.offenders).toEqual(["VIEW `defs`.`theirs` (DEFINER 'sales'@'10.%', SQL SECURITY INVOKER)"])
    expect(warned.message).toContain("so on the replica it is SQL SECURITY INVOKER and keeps running with its caller's rights")
  })

  it('is not run while the replica refuses this machine', async () => {
    later(async () => allowLoopback(sandbox))
    blockLoopback(sandbox)
    const result = await check('definers')
    expect(result.status).toBe('not-run')
    expect(result.message).toContain('127.0.0.1')
  })
})

describe('routines-need-trust', () => {
  it('with --no-arm fails while the replica has log_bin_trust_function_creators OFF, and passes once it is ON', async () => {
    later(() => replica(['SET GLOBAL log_bin_trust_function_creators = 0']))
    const noArm = {noArm: true, settings: {useArm: false}}
    const failed = await check('routines-need-trust', noArm)
    expect(failed.status).toBe('fail')
    expect(failed.offenders).toEqual(['FUNCTION `shop`.`customer_lifetime_value`', 'TRIGGER `shop`.`order_items_after_insert`'])
    expect(failed.message).toContain('error 1419')
    expect(failed.fix).toContain('Server parameters')
    expect(failed.fix).toContain('az mariadb server configuration set --resource-group <resource-group> --server-name <server> --name log_bin_trust_function_creators --value ON')

    await replica(['SET GLOBAL log_bin_trust_function_creators = 1'])
    const passed = await check('routines-need-trust', noArm)
    expect(passed.status).toBe('pass')
    expect(passed.message).toContain('log_bin_trust_function_creators is ON on the replica')

    // Through ARM the parameter is datain's to set, and ARM shows it already ON.
    expect((await check('routines-need-trust')).message).toContain('already ON on the replica (through ARM)')
  })

  it('passes without a function or trigger, and is not run with --no-arm while the replica refuses this machine', async () => {
    later(() => source(['DROP DATABASE IF EXISTS `procs_only`']))
    await source(['CREATE DATABASE `procs_only`', 'CREATE PROCEDURE `procs_only`.`p`() SELECT 1'])
    const passed = await check('routines-need-trust', {noArm: true, settings: {useArm: false, databases: ['procs_only']}})
    expect(passed).toMatchObject({status: 'pass', message: 'No stored function or trigger in database `procs_only`: log_bin_trust_function_creators is not needed.'})

    later(async () => allowLoopback(sandbox))
    blockLoopback(sandbox)
    const notRun = await check('routines-need-trust', {noArm: true, settings: {useArm: false}})
    expect(notRun.status).toBe('not-run')
    expect(notRun.message).toContain('--no-arm')
  })
})

describe('sync-info-parameters', () => {
  it('in file/position mode passes through ARM, and with --no-arm fails until both are 1', async () => {
    later(() => replica(['SET GLOBAL sync_master_info = 10000', 'SET GLOBAL sync_relay_log_info = 10000']))
    const viaArm = await check('sync-info-parameters', {settings: {gtid: false}})
    expect(viaArm.status).toBe('pass')
    expect(viaArm.message).toBe(
      'datain will set sync_master_info=1 and sync_relay_log_info=1 through ARM before linking the replica (now sync_master_info=10000, sync_relay_log_info=10000).',
    )

    const noArm = {noArm: true, settings: {useArm: false, gtid: false}}
    const failed = await check('sync-info-parameters', noArm)
    expect(failed.status).toBe('fail')
    expect(failed.offenders).toEqual(['sync_master_info=10000', 'sync_relay_log_info=10000'])
    expect(failed.fix).toContain('--name sync_master_info --value 1')
    expect(failed.fix).toContain('--name sync_relay_log_info --value 1')

    await replica(['SET GLOBAL sync_master_info = 1'])
    expect((await check('sync-info-parameters', noArm)).offenders).toEqual(['sync_relay_log_info=10000'])

    await replica(['SET GLOBAL sync_relay_log_info = 1'])
    expect((await check('sync-info-parameters', noArm)).status).toBe('pass')
  })

  it('is not needed in GTID mode, even with --no-arm', async () => {
    const result = await check('sync-info-parameters', {noArm: true, settings: {useArm: false, gtid: true}})
    expect(result.status).toBe('pass')
    expect(result.message).toContain('Not needed')
  })
})

describe('time-zones', () => {
  it('warns about named zones in @@time_zone and CONVERT_TZ until the replica has them', async () => {
    later(async () => {
      await source(['SET GLOBAL time_zone = SYSTEM', 'DROP DATABASE IF EXISTS `tz`'])
      await emptyTimeZones(sandbox.source.server)
      await emptyTimeZones(sandbox.replica.server)
    })
    await loadTimeZones(sandbox.source.server, ['Europe/Paris'])
    await source([
      "SET GLOBAL time_zone = 'Europe/Paris'",
      'CREATE DATABASE `tz`',
      // Offsets need no tables: only UTC and Asia/Tokyo are names here.
      "CREATE FUNCTION `tz`.`to_tokyo`(d DATETIME) RETURNS DATETIME DETERMINISTIC RETURN CONVERT_TZ(CONVERT_TZ(d, '+00:00', 'UTC'), 'UTC', 'Asia/Tokyo')",
    ])
    const warned = await check('time-zones')
    expect(warned.status).toBe('warn')
    expect(warned.offenders).toEqual([
      "@@global.time_zone uses 'Europe/Paris'",
      "FUNCTION `tz`.`to_tokyo` uses 'UTC'",
      "FUNCTION `tz`.`to_tokyo` uses 'Asia/Tokyo'",
    ])
    expect(warned.message).toContain("the replica's mysql.time_zone_name lacks 'Europe/Paris', 'UTC', 'Asia/Tokyo'")
    expect(warned.fix).toContain('CALL mysql.az_load_timezone();')

    await loadTimeZones(sandbox.replica.server, ['Europe/Paris', 'UTC'])
    expect((await check('time-zones')).offenders).toEqual(["FUNCTION `tz`.`to_tokyo` uses 'Asia/Tokyo'"])

    await loadTimeZones(sandbox.replica.server, ['Asia/Tokyo'])
    const passed = await check('time-zones')
    expect(passed.status).toBe('pass')
    expect(passed.message).toContain("'Europe/Paris', 'UTC', 'Asia/Tokyo'")
  })
})

describe('accounts', () => {
  it("lists the source's own accounts and roles, not the system ones, datain's or the replication user", async () => {
    later(() =>
      source(["DROP USER IF EXISTS 'sales'@'10.%'", "DROP USER IF EXISTS 'datain_repl'@'%'", 'DROP ROLE IF EXISTS `reporting`']),
    )
    await source(["CREATE USER 'sales'@'10.%' IDENTIFIED BY 'x'", "CREATE USER 'datain_repl'@'%' IDENTIFIED BY 'x'", 'CREATE ROLE `reporting`'])
    const warned = await check('accounts')
    expect(warned.status).toBe('warn')
    expect(warned.offenders).toEqual([APP, "role 'reporting'", "'sales'@'10.%'"])
    expect(warned.message).toContain('not replicated')
    expect(warned.fix).toContain("run 'datain accounts'")
  })
  it('warns, rather than passing, when the source user may not read mysql.user', async () => {
    later(restoreAdminGrants)
    await source([`REVOKE SELECT ON *.* FROM ${ADMIN}`, `GRANT SELECT ON \`shop\`.* TO ${ADMIN}`, `GRANT SELECT ON \`mysql\`.\`proc\` TO ${ADMIN}`])
    const results = await runAccess({}, undefined)
    const byId = (id: string) => results.find((r) => r.id === id)!
    expect(byId('source-privileges').status).toBe('pass')
    expect(byId('accounts')).toMatchObject({status: 'warn', offenders: []})
    expect(byId('accounts').message).toBe(`${ADMIN} may not read mysql.user, so datain cannot list the source's accounts, which are not replicated.`)
    expect(byId('replication-user')).toMatchObject({status: 'warn', offenders: []})
    expect(byId('replication-user').fix).toContain("SELECT User, Host FROM mysql.user WHERE User = 'datain_repl';")
  })
})

describe('replication-user', () => {
  it('fails on an account datain did not create, and passes when the checkpoint says it is datain’s own', async () => {
    later(() => source(["DROP USER IF EXISTS 'datain_repl'@'%'", "DROP USER IF EXISTS 'datain_repl'@'10.0.0.%'"]))
    await source(["CREATE USER 'datain_repl'@'%' IDENTIFIED BY 'x'"])
    const one = await check('replication-user')
    expect(one).toMatchObject({
      status: 'fail',
      message: "'datain_repl'@'%' already exists on the source, an account datain did not create; datain will not take it over.",
      offenders: ["'datain_repl'@'%'"],
    })
    expect(one.fix).toContain('--replication-user')

    await source(["CREATE USER 'datain_repl'@'10.0.0.%' IDENTIFIED BY 'x'"])
    const failed = await check('replication-user')
    expect(failed.status).toBe('fail')
    expect(failed.offenders).toEqual(["'datain_repl'@'%'", "'datain_repl'@'10.0.0.%'"])
    expect(failed.message).toContain('accounts datain did not create')
    expect(failed.fix).toContain("DROP USER 'datain_repl'@'%'; DROP USER 'datain_repl'@'10.0.0.%';")

    const own = await check('replication-user', {own: {replicationUserCreated: true}})
    expect(own.status).toBe('pass')
    expect(own.message).toContain('reused')

    const other = await check('replication-user', {settings: {replicationUser: "repl'other"}})
    expect(other).toMatchObject({status: 'pass', message: "No account named 'repl''other' exists on the source (read from mysql.user): datain will create it."})
  })
})

describe('firewall-rules', () => {
  it("warns about a datain-… rule this setup did not create, and passes when it is datain's own", async () => {
    const rules = sandbox.azure.state.firewallRules
    later(async () => rules.delete('datain-other-source'))
    rules.set('datain-other-source', {name: 'datain-other-source', startIpAddress: '203.0.113.7', endIpAddress: '203.0.113.7'})

    const warned = await check('firewall-rules', {settings: {sourcePublicHost: '203.0.113.7'}})
    expect(warned.status).toBe('warn')
    expect(warned.offenders).toEqual(['datain-other-source (203.0.113.7-203.0.113.7)'])
    expect(warned.message).toContain("The replica has 2 firewall rules; 1 rule named like datain's was not created by this setup")
    expect(warned.message).toContain("'datain-other-source' already covers the source's address 203.0.113.7 (an existing rule covering the address is reused)")
    expect(warned.fix).toContain('--name <rule>')

    const own = await check('firewall-rules', {settings: {sourcePublicHost: '198.51.100.1'}, own: {firewallRules: ['datain-other-source']}})
    expect(own.status).toBe('pass')
    expect(own.message).toContain("none covers the source's address 198.51.100.1, so datain will add one")

    expect((await check('firewall-rules', {settings: {manageFirewall: false}})).message).toContain('--no-firewall')
    expect((await check('firewall-rules', {noArm: true, settings: {useArm: false}})).status).toBe('not-run')
  })
})
