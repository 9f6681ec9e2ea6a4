import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {replicaProcedureStatements} from '../../sandbox/replica-procedures.js'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {sampleDataObjects} from '../../sandbox/sample-data.js'
import {ensureCa} from '../../sandbox/tls.js'
import {quoteIdentifier, quoteQualified} from '../../src/lib/sql.js'
import type {CheckResult, OwnWork, PreflightSettings} from '../../src/preflight/check.js'
import {compatibilityChecks, findReplicationProcedures} from '../../src/preflight/compat/index.js'
import {runChecks} from '../../src/preflight/run.js'
import {renderChecks} from '../../src/ui/preflight-report.js'
import {allowLoopback, blockLoopback, openSandboxPreflight} from '../helpers/preflight.js'

/** The main sandbox: every condition a root session can create at run time is made here, and undone after each test. */
let sandbox: Sandbox
/** Conditions that need a restart, together: source without binlog and with lower_case_table_names=0, procedures in `mariadb`. */
let odd: Sandbox

const shop = sampleDataObjects().database
/** A database name with a quote, backticks, spaces and non-ASCII letters: whatever quotes wrong breaks here. */
const WEIRD_DB = "it's `odd` ünïcødé db"
const ADMIN = () => `'${sandbox.replica.account}'@'%'`
const undo: Array<() => Promise<void>> = []

beforeAll(async () => {
  // ensureCa is not atomic: two sandboxes starting at once would both write, and read, a half-made source CA.
  await ensureCa(process.env.DATAIN_SANDBOX_CA_DIR!, 'source')
  ;[sandbox, odd] = await Promise.all([
    startSandbox({sampleRows: 20}),
    startSandbox({source: {binlog: false, lowerCaseTableNames: 0}, procedureSchema: 'mariadb', sampleRows: 0}),
  ])
  allowLoopback(sandbox)
  allowLoopback(odd)
})

afterAll(async () => {
  await Promise.all([sandbox?.stop(), odd?.stop()])
})

afterEach(async () => {
  for (const step of undo.splice(0).reverse()) await step()
})

async function check(
  target: Sandbox,
  options: {settings?: Partial<PreflightSettings>; noArm?: boolean; own?: OwnWork} = {},
): Promise<Map<string, CheckResult>> {
  const ctx = await openSandboxPreflight(target, options)
  try {
    const results = await runChecks(compatibilityChecks, ctx)
    return new Map(results.map((r) => [r.id, r]))
  } finally {
    await ctx.close()
  }
}

function result(results: Map<string, CheckResult>, id: string): CheckResult {
  const r = results.get(id)
  expect(r, `no result '${id}' among ${[...results.keys()].join(', ')}`).toBeDefined()
  return r!
}

/** The SQL statements of a fix, one per line. */
const statements = (fix: string | undefined, prefix: string) => (fix ?? '').split('\n').filter((line) => line.startsWith(prefix))

const ALL_IDS = [
  'source-tls',
  'replica-tls-verify',
  'source-version',
  'same-version',
  'databases-exist',
  'innodb-tables',
  'primary-keys',
  'log-bin',
  'binlog-format',
  'server-id',
  'gtid',
  'lower-case-table-names',
  'replica-empty',
  'replica-link',
  'database-filter',
  'tier',
  'procedures',
  'replica-privileges',
]

describe('compatibility checks on a clean sandbox', () => {
  it('all pass, each naming what it saw', async () => {
    const results = await check(sandbox)
    expect([...results.keys()]).toEqual(ALL_IDS)
    // The plain replica's privileges check is about --target mariadb: not applicable to an Azure replica.
    const expected = (id: string) => (id === 'replica-privileges' ? 'not-applicable' : 'pass')
    for (const r of results.values()) expect({id: r.id, status: r.status, fix: r.fix, offenders: r.offenders}).toEqual({id: r.id, status: expected(r.id), fix: undefined, offenders: undefined})
    // The version, then what is needed (it once read "runs MariaDB 10.11, 10.2 or later").
    expect(result(results, 'source-version').message).toMatch(/^The source runs MariaDB 10\.11 \(VERSION\(\) '10\.11\.\d+-MariaDB.*\); Data-in Replication needs 10\.2 or later\.$/)
    expect(result(results, 'same-version').message).toContain('Both servers run MariaDB 10.11')
    expect(result(results, 'innodb-tables').message).toContain(`All ${sampleDataObjects().tables.length} tables`)
    expect(result(results, 'server-id').message).toContain("server_id is 1, the replica's 2")
    expect(result(results, 'lower-case-table-names').message).toContain('1 on both')
    expect(result(results, 'database-filter').message).toContain('needs no replication filter')
    expect(result(results, 'tier').message).toContain('GeneralPurpose')
    expect(result(results, 'procedures').message).toContain("schema 'mysql'")
    expect(result(results, 'source-tls').message).toMatch(/^datain's connection to the source is TLS \(TLS_[A-Z0-9_]+\), verified against --source-ssl-ca/)
  })

  it('warns about --source-ssl off and --no-replica-ssl-verify, and fails TLS without a CA the replica could be given', async () => {
    const off = await check(sandbox, {settings: {sourceSsl: 'off', replicaTlsVerify: false}})
    expect(result(off, 'source-tls')).toMatchObject({status: 'warn', message: expect.stringContaining('the replication user cannot be REQUIRE SSL')})
    expect(result(off, 'replica-tls-verify')).toMatchObject({status: 'warn', fix: expect.stringContaining('--replica-ssl-ca')})
    const noCa = await check(sandbox, {settings: {sourceCa: false}})
    expect(result(noCa, 'source-tls')).toMatchObject({status: 'fail', fix: expect.stringContaining('--source-ssl-ca FILE')})
  })

  it('reports the replica checks as not run, naming the address, while the gateway refuses this machine', async () => {
    blockLoopback(sandbox)
    undo.push(async () => allowLoopback(sandbox))
    const results = await check(sandbox)
    for (const id of ['same-version', 'lower-case-table-names', 'replica-empty', 'procedures', 'server-id-distinct']) {
      expect(result(results, id).status, id).toBe('not-run')
      expect(result(results, id).message, id).toContain('127.0.0.1')
    }
    // The source's part of the server_id check still ran; only the comparison waits for the replica.
    // Its pass claims only that half (it once passed "set and distinct", pointing at an internal id).
    expect(result(results, 'server-id')).toMatchObject({status: 'pass', title: 'Source server_id set', message: "The source's server_id is 1, not 0."})
    expect(result(results, 'server-id-distinct').title).toBe("Source server_id differs from the replica's")
    for (const id of ['source-version', 'innodb-tables', 'primary-keys', 'log-bin', 'binlog-format', 'gtid', 'database-filter', 'tier']) {
      expect(result(results, id).status, id).toBe('pass')
    }
  })
})

describe('innodb-tables and primary-keys', () => {
  async function weirdDatabase(): Promise<void> {
    await sandbox.source.server.execute([`CREATE DATABASE ${quoteIdentifier(WEIRD_DB)}`])
    undo.push(() => sandbox.source.server.execute([`DROP DATABASE IF EXISTS ${quoteIdentifier(WEIRD_DB)}`]))
  }

  it('lists every non-InnoDB table with its engine, and its fix converts them all', async () => {
    await weirdDatabase()
    await sandbox.source.server.execute([
      `CREATE TABLE ${shop}.legacy_log (id INT PRIMARY KEY, line TEXT) ENGINE=MyISAM`,
      `CREATE TABLE ${quoteQualified(WEIRD_DB, 'no`tes')} (id INT PRIMARY KEY) ENGINE=Aria`,
      `CREATE TABLE ${quoteQualified(WEIRD_DB, 'fine')} (id INT PRIMARY KEY) ENGINE=InnoDB`,
    ])
    undo.push(() => sandbox.source.server.execute([`DROP TABLE IF EXISTS ${shop}.legacy_log`]))

    const r = result(await check(sandbox), 'innodb-tables')
    expect(r.status).toBe('fail')
    expect(r.offenders).toEqual([`${WEIRD_DB}.no\`tes (Aria)`, 'shop.legacy_log (MyISAM)'])
    expect(r.message).toContain('2 of the 8 tables')
    const alters = statements(r.fix, 'ALTER TABLE')
    expect(alters).toEqual([`ALTER TABLE ${quoteQualified(WEIRD_DB, 'no`tes')} ENGINE=InnoDB;`, 'ALTER TABLE `shop`.`legacy_log` ENGINE=InnoDB;'])

    await sandbox.source.server.execute(alters)
    expect(result(await check(sandbox), 'innodb-tables').status).toBe('pass')
  })

  it('lists every table without a PRIMARY KEY in every database, says a UNIQUE NOT NULL key is not enough, and its fix keys them all', async () => {
    await weirdDatabase()
    await sandbox.source.server.execute([
      `CREATE TABLE ${shop}.audit (at DATETIME, what TEXT)`,
      `CREATE TABLE ${shop}.tags (name VARCHAR(50) NOT NULL, kind INT NOT NULL, UNIQUE KEY uq_tags (name, kind))`,
      `CREATE TABLE ${shop}.counters (n INT AUTO_INCREMENT, KEY (n))`,
      `CREATE TABLE ${quoteQualified(WEIRD_DB, 'log lines')} (line TEXT, UNIQUE KEY maybe (line(20)))`,
    ])
    undo.push(() => sandbox.source.server.execute([`DROP TABLE IF EXISTS ${shop}.audit, ${shop}.tags, ${shop}.counters`]))

    const r = result(await check(sandbox), 'primary-keys')
    expect(r.status).toBe('fail')
    expect(r.offenders).toEqual([`${WEIRD_DB}.log lines`, 'shop.audit', 'shop.counters', 'shop.tags'])
    expect(r.message).toContain('4 of the 9 tables of the databases')
    expect(r.message).toContain('have no PRIMARY KEY')
    expect(r.message).toMatch(/shop\.tags has a UNIQUE key on NOT NULL columns, which is not enough: Azure requires a declared PRIMARY KEY/)
    const alters = statements(r.fix, 'ALTER TABLE')
    expect(alters).toEqual([
      `ALTER TABLE ${quoteQualified(WEIRD_DB, 'log lines')} ADD COLUMN \`datain_row_id\` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT INVISIBLE PRIMARY KEY;`,
      'ALTER TABLE `shop`.`audit` ADD COLUMN `datain_row_id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT INVISIBLE PRIMARY KEY;',
      'ALTER TABLE `shop`.`counters` ADD PRIMARY KEY (`n`);',
      'ALTER TABLE `shop`.`tags` ADD PRIMARY KEY (`name`, `kind`);',
    ])

    await sandbox.source.server.execute(alters)
    expect(result(await check(sandbox), 'primary-keys').status).toBe('pass')
  })
})

describe('binlog', () => {
  it.each(['STATEMENT', 'MIXED'])('fails binlog-format %s with the my.cnf line and the restart', async (format) => {
    await sandbox.source.server.execute([`SET GLOBAL binlog_format = '${format}'`])
    undo.push(() => sandbox.source.server.execute(["SET GLOBAL binlog_format = 'ROW'"]))
    const results = await check(sandbox)
    const r = result(results, 'binlog-format')
    expect(r.status).toBe('fail')
    expect(r.message).toContain(`binlog_format is ${format}, not ROW`)
    expect(r.fix).toContain('[mariadb]\nbinlog_format=ROW')
    expect(r.fix).toMatch(/restart the source/i)
    expect(result(results, 'log-bin').status).toBe('pass')
  })

  it("fails server-id when it equals the replica's (error 1593) and suggests another", async () => {
    await sandbox.source.server.execute(['SET GLOBAL server_id = 2'])
    undo.push(() => sandbox.source.server.execute(['SET GLOBAL server_id = 1']))
    const r = result(await check(sandbox), 'server-id')
    expect(r.status).toBe('fail')
    expect(r.message).toContain('both have server_id 2')
    expect(r.message).toContain('1593')
    expect(r.fix).toContain('[mariadb]\nserver_id=1')
    expect(r.fix).toContain("0 and the replica's 2")
    expect(r.fix).toMatch(/restart the source/i)
  })

  it('warns in GTID mode when the replica has gtid_strict_mode ON in the source\'s domain, and skips gtid with --no-gtid', async () => {
    await sandbox.replica.server.execute(['SET GLOBAL gtid_strict_mode = ON'])
    undo.push(() => sandbox.replica.server.execute(['SET GLOBAL gtid_strict_mode = OFF']))
    const r = result(await check(sandbox), 'gtid')
    expect(r.status).toBe('warn')
    expect(r.message).toContain('gtid_strict_mode ON and the same gtid_domain_id 0')
    expect(r.message).toContain('1950')
    expect(r.fix).toContain('gtid_domain_id=1')

    const noGtid = await check(sandbox, {settings: {gtid: false}})
    expect(result(noGtid, 'gtid')).toMatchObject({status: 'not-run', message: expect.stringContaining('--no-gtid')})
  })
})

describe('replica-empty', () => {
  it('fails on a selected database the replica holds (case-insensitively), warns with start --replace-databases, passes for datain\'s own copy', async () => {
    await sandbox.replica.server.execute(['CREATE DATABASE SHOP'])
    undo.push(() => sandbox.replica.server.execute(['DROP DATABASE IF EXISTS shop']))

    const failed = result(await check(sandbox), 'replica-empty')
    expect(failed.status).toBe('fail')
    expect(failed.offenders).toEqual(['shop'])
    expect(failed.fix).toContain('DROP DATABASE `shop`;')
    expect(failed.fix).toContain("'datain start --replace-databases'")
    expect(failed.fix).not.toContain('--force')

    const forced = result(await check(sandbox, {settings: {replaceDatabases: true}}), 'replica-empty')
    expect(forced).toMatchObject({status: 'warn', offenders: ['shop'], message: expect.stringContaining('this run drops it and copies the source')})

    const resumed = result(
      await check(sandbox, {own: {replicaDatabases: ['shop'], replicationUserCreated: true, firewallRules: []}}),
      'replica-empty',
    )
    expect(resumed).toMatchObject({status: 'pass', message: expect.stringContaining("datain's own partial copy")})
    expect(resumed.offenders).toBeUndefined()
  })
})

describe('replica-link', () => {
  it("fails on a replica linked to another source before anything is copied, warns with start --take-over-replica, passes for this source's own link", async () => {
    await sandbox.replica.server.execute(["CHANGE MASTER TO MASTER_HOST = 'old-primary.example', MASTER_PORT = 3307, MASTER_USER = 'old', MASTER_PASSWORD = 'x'"])
    undo.push(() => sandbox.replica.server.execute(['RESET SLAVE ALL']))

    const failed = result(await check(sandbox), 'replica-link')
    expect(failed).toMatchObject({status: 'fail', offenders: ["old-primary.example:3307 as 'old'"]})
    expect(failed.message).toContain('datain does not take over a link it did not make')
    expect(failed.fix).toContain('CALL mysql.az_replication_stop; CALL mysql.az_replication_remove_master;')
    expect(failed.fix).toContain("'datain start --take-over-replica'")
    const plain = result(await check(sandbox, {settings: {target: 'mariadb'}}), 'replica-link')
    expect(plain.fix).toContain('STOP SLAVE; RESET SLAVE ALL;')

    const takeOver = result(await check(sandbox, {settings: {takeOverReplica: true}}), 'replica-link')
    expect(takeOver).toMatchObject({status: 'warn', message: expect.stringContaining('with --take-over-replica this run replaces that link')})

    // The link an earlier run made to this source: datain's own (the host compared without case).
    const own = result(await check(sandbox, {settings: {sourcePublicHost: 'OLD-Primary.example', sourcePort: 3307, replicationUser: 'old'}}), 'replica-link')
    expect(own).toMatchObject({status: 'pass', message: expect.stringContaining("datain's own link from an earlier run")})

    await sandbox.replica.server.execute(['RESET SLAVE ALL'])
    expect(result(await check(sandbox), 'replica-link')).toMatchObject({status: 'pass', message: 'The replica has no replication link.'})
  })
})

describe('replica-link, with what a replica reports about a link someone else made', () => {
  it('shows a source host and user with control characters escaped in the report, and still fails', async () => {
    // The replica's SHOW SLAVE STATUS repeats whatever its DBA (or an attacker with the privilege) gave CHANGE MASTER TO.
    await sandbox.replica.server.execute(["CHANGE MASTER TO MASTER_HOST = 'evil\x1b[2J\nPASS', MASTER_PORT = 3306, MASTER_USER = 'u\x07', MASTER_PASSWORD = 'x'"])
    undo.push(() => sandbox.replica.server.execute(['RESET SLAVE ALL']))
    const failed = result(await check(sandbox), 'replica-link')
    expect(failed.status).toBe('fail')
    const report = renderChecks([failed], {verbose: true})
    expect([...report].filter((c) => c !== '\n' && (c < ' ' || c === '\x7f'))).toEqual([])
    expect(report).not.toContain('\nPASS')
    expect(report).toContain('evil')
  })
})

describe('database-filter', () => {
  async function moreDatabases(): Promise<void> {
    await sandbox.source.server.execute(['CREATE DATABASE crm', 'CREATE DATABASE my_db', 'CREATE TABLE crm.leads (id INT PRIMARY KEY)'])
    undo.push(() => sandbox.source.server.execute(['DROP DATABASE IF EXISTS crm', 'DROP DATABASE IF EXISTS my_db']))
  }

  it('with ARM, passes naming the exact replicate_wild_ignore_table value datain will set', async () => {
    await moreDatabases()
    const results = await check(sandbox, {settings: {databases: ['shop']}})
    expect(result(results, 'database-filter')).toMatchObject({
      status: 'pass',
      message: "datain will set replicate_wild_ignore_table to 'crm.%,my\\_db.%' so that the replica skips the databases left out.",
    })
    // Copying all of them is no subset: no filter.
    const all = await check(sandbox, {settings: {databases: ['shop', 'crm', 'my_db']}})
    expect(result(all, 'database-filter').message).toContain('needs no replication filter')
  })

  it('with --no-arm, fails until the replica skips every database left out, warns with init --unfiltered-subset, and refuses a filter that skips copied tables', async () => {
    await moreDatabases()
    undo.push(() => sandbox.replica.server.execute(["SET GLOBAL replicate_wild_ignore_table = ''"]))
    const settings = {databases: ['shop']}

    const failed = result(await check(sandbox, {settings, noArm: true}), 'database-filter')
    expect(failed.status).toBe('fail')
    expect(failed.offenders).toEqual(['crm', 'my_db'])
    expect(failed.message).toContain('error 1146')
    expect(failed.fix).toContain("--name replicate_wild_ignore_table --value 'crm.%,my\\_db.%'")
    expect(failed.fix).toContain('--unfiltered-subset')

    const forced = result(await check(sandbox, {settings: {...settings, unfilteredSubset: true}, noArm: true}), 'database-filter')
    expect(forced).toMatchObject({status: 'warn', offenders: ['crm', 'my_db'], message: expect.stringContaining('--unfiltered-subset')})

    await sandbox.replica.server.query('SET GLOBAL replicate_wild_ignore_table = ?', ['crm.%'])
    const partly = result(await check(sandbox, {settings, noArm: true}), 'database-filter')
    expect(partly).toMatchObject({status: 'fail', offenders: ['my_db']})

    await sandbox.replica.server.query('SET GLOBAL replicate_wild_ignore_table = ?', ['crm.%,my\\_db.%'])
    const results = await check(sandbox, {settings, noArm: true})
    expect(result(results, 'database-filter')).toMatchObject({status: 'pass', message: expect.stringContaining('already skips every database left out')})
    expect(result(results, 'tier').status).toBe('not-run')

    // `s%` skips crm's neighbour shop too: its tables would silently stop receiving changes.
    await sandbox.replica.server.query('SET GLOBAL replicate_wild_ignore_table = ?', ['crm.%,my\\_db.%,shop.order%'])
    const skipsCopied = result(await check(sandbox, {settings, noArm: true}), 'database-filter')
    expect(skipsCopied).toMatchObject({status: 'fail', offenders: ['shop.order_items', 'shop.orders']})
  })
})

describe('tier', () => {
  it('fails a Basic server: no Data-in Replication, and no scaling out of Basic', async () => {
    sandbox.azure.state.tier = 'Basic'
    undo.push(async () => {
      sandbox.azure.state.tier = 'GeneralPurpose'
    })
    const r = result(await check(sandbox), 'tier')
    expect(r.status).toBe('fail')
    expect(r.message).toContain("'datain-replica' is in the Basic tier")
    expect(r.message).toContain('cannot be scaled')
    expect(r.fix).toContain('Create a new Azure Database for MariaDB server in General Purpose or Memory Optimized')
  })
})

describe('procedures', () => {
  const restoreProcedures = () => sandbox.replica.server.execute(replicaProcedureStatements('mysql'))

  it('warns when only az_replication_skip_counter is missing', async () => {
    await sandbox.replica.server.execute(['DROP PROCEDURE mysql.az_replication_skip_counter'])
    undo.push(restoreProcedures)
    const r = result(await check(sandbox), 'procedures')
    expect(r).toMatchObject({status: 'warn', offenders: ['mysql.az_replication_skip_counter']})
    expect(r.message).toContain("schema 'mysql'")
  })

  it('fails when the GTID variant is missing in GTID mode, and passes in --no-gtid mode', async () => {
    await sandbox.replica.server.execute(['DROP PROCEDURE mysql.az_replication_change_master_with_gtid', 'DROP PROCEDURE mysql.az_replication_stop'])
    undo.push(restoreProcedures)
    const r = result(await check(sandbox), 'procedures')
    expect(r).toMatchObject({status: 'fail', offenders: ['mysql.az_replication_change_master_with_gtid', 'mysql.az_replication_stop']})
    expect(r.message).toContain('missing')

    await sandbox.replica.server.execute(replicaProcedureStatements('mysql').filter((sql) => !/change_master_with_gtid/.test(sql)))
    expect(result(await check(sandbox, {settings: {gtid: false}}), 'procedures').status).toBe('pass')
    expect(result(await check(sandbox), 'procedures')).toMatchObject({status: 'fail', offenders: ['mysql.az_replication_change_master_with_gtid']})
  })

  it('fails when the admin may not EXECUTE them, with the GRANT to run; a routine-level grant counts', async () => {
    await sandbox.replica.server.execute([`REVOKE EXECUTE ON *.* FROM ${ADMIN()}`])
    undo.push(async () => {
      await sandbox.replica.server.execute([`GRANT EXECUTE ON *.* TO ${ADMIN()}`])
      for (const name of ['az_replication_start', 'az_replication_stop']) {
        await sandbox.replica.server.execute([`REVOKE EXECUTE ON PROCEDURE mysql.${name} FROM ${ADMIN()}`]).catch(() => {})
      }
    })
    const r = result(await check(sandbox), 'procedures')
    expect(r.status).toBe('fail')
    expect(r.offenders).toEqual([
      'mysql.az_replication_change_master_with_gtid',
      'mysql.az_replication_start',
      'mysql.az_replication_stop',
      'mysql.az_replication_remove_master',
    ])
    expect(r.message).toContain('may not EXECUTE')
    const grants = statements(r.fix, 'GRANT EXECUTE')
    expect(grants[0]).toBe(`GRANT EXECUTE ON PROCEDURE \`mysql\`.\`az_replication_change_master_with_gtid\` TO 'azureadmin'@'%';`)
    expect(grants).toHaveLength(4)

    await sandbox.replica.server.execute(grants.slice(1, 3))
    const partly = result(await check(sandbox), 'procedures')
    expect(partly.offenders).toEqual(['mysql.az_replication_change_master_with_gtid', 'mysql.az_replication_remove_master'])
  })

  it('findReplicationProcedures names the schema and every procedure', async () => {
    const ctx = await openSandboxPreflight(sandbox)
    try {
      const found = await findReplicationProcedures(ctx.replica!)
      expect(found?.schema).toBe('mysql')
      expect([...found!.names].sort()).toEqual([
        'az_replication_change_master',
        'az_replication_change_master_with_gtid',
        'az_replication_remove_master',
        'az_replication_skip_counter',
        'az_replication_start',
        'az_replication_stop',
      ])
    } finally {
      await ctx.close()
    }
  })
})

describe('a source without binlog and with lower_case_table_names=0, procedures in `mariadb`', () => {
  it('fails log-bin with the my.cnf line, fails lower-case-table-names listing the upper-case names, and finds the procedures in mariadb', async () => {
    await odd.source.server.execute([
      'CREATE DATABASE Sales',
      'CREATE TABLE Sales.Orders (id INT PRIMARY KEY)',
      'CREATE TABLE Sales.lines (id INT PRIMARY KEY)',
      'CREATE DATABASE crm',
      'CREATE TABLE crm.Leads (id INT PRIMARY KEY)',
    ])
    const results = await check(odd)

    const logBin = result(results, 'log-bin')
    expect(logBin.status).toBe('fail')
    expect(logBin.message).toContain('log_bin is OFF')
    expect(logBin.fix).toContain('[mariadb]\nlog_bin=mariadb-bin')
    expect(logBin.fix).toMatch(/restart the source/i)
    expect(result(results, 'gtid').status).toBe('not-run')
    expect(result(results, 'binlog-format').status).toBe('pass')

    const names = result(results, 'lower-case-table-names')
    expect(names.status).toBe('fail')
    expect(names.message).toContain('0 on the source but 1 on the replica')
    expect(names.offenders).toEqual(['Sales', 'Sales.Orders', 'crm.Leads'])
    expect(names.fix).toContain('error 1238')
    expect(names.fix).toContain('lower_case_table_names=1')
    expect(names.fix).toContain('MariaDB cannot rename a database')
    expect(statements(names.fix, 'CREATE DATABASE').concat(statements(names.fix, 'RENAME TABLE'))).toEqual([
      'CREATE DATABASE IF NOT EXISTS `sales`;',
      'RENAME TABLE `Sales`.`Orders` TO `sales`.`orders`;',
      'RENAME TABLE `Sales`.`lines` TO `sales`.`lines`;',
      'RENAME TABLE `crm`.`Leads` TO `crm`.`leads`;',
    ])

    const procedures = result(results, 'procedures')
    expect(procedures).toMatchObject({status: 'pass', message: expect.stringContaining("schema 'mariadb'")})
  })
})
