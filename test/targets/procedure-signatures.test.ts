import {readFileSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {PROCEDURE_DEFINER, replicaProcedureStatements} from '../../sandbox/replica-procedures.js'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {DatainError} from '../../src/lib/errors.js'
import {connectTo} from '../../src/lib/mariadb.js'
import {proceduresCheck} from '../../src/preflight/compat/procedures.js'
import {readProcedureSignatures} from '../../src/targets/azure-mariadb/procedure-signatures.js'
import {allowLoopback, openSandboxPreflight} from '../helpers/preflight.js'
import {stepContextFor, type TestStepContext} from '../helpers/step-context.js'

/** Issue 14: datain reads each az_replication_* procedure's parameters instead of assuming them. */

let sandbox: Sandbox
let home: string
const contexts: TestStepContext[] = []

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  allowLoopback(sandbox)
  home = await mkdtemp(path.join(tmpdir(), 'datain-signatures-'))
})

afterAll(async () => {
  await sandbox?.stop()
  await rm(home, {recursive: true, force: true})
})

afterEach(async () => {
  for (const ctx of contexts.splice(0)) await ctx.close()
  // Azure's procedures as the sandbox has them, whatever a test replaced.
  await sandbox.replica.server.execute(replicaProcedureStatements(sandbox.procedureSchema))
})

/** Replaces one of the replica's procedures, as root, with other parameters (the body does nothing). */
async function redeclare(name: string, params: string): Promise<void> {
  await sandbox.replica.server.execute([
    `DROP PROCEDURE IF EXISTS mysql.${name}`,
    `CREATE DEFINER=${PROCEDURE_DEFINER} PROCEDURE mysql.${name}(${params}) SQL SECURITY DEFINER BEGIN END`,
  ])
}

async function open(actions: Parameters<TestStepContext['target']['replication']['open']>[1], gtid = true): Promise<unknown> {
  const ctx = await stepContextFor(sandbox, {home, profile: `sig-${contexts.length}`, settings: {gtid}})
  contexts.push(ctx)
  return ctx.target.replication.open(await ctx.replica(), actions).then(
    () => 'opened',
    (e: unknown) => e,
  )
}

async function check(gtid = true) {
  const preflight = await openSandboxPreflight(sandbox, {settings: {gtid}})
  try {
    return await proceduresCheck.run(preflight)
  } finally {
    await preflight.close()
  }
}

const CONNECTION = 'IN master_host VARCHAR(255), IN master_user VARCHAR(128), IN master_password VARCHAR(255), IN master_port INT'

describe("the Azure target checks its procedures' parameters", () => {
  it("opens the controls and passes the check when the procedures take what datain passes (Azure's own)", async () => {
    expect(await open(['link', 'start', 'stop', 'remove', 'skip'])).toBe('opened')
    expect(await open(['link'], false)).toBe('opened')
    expect(await check()).toMatchObject({status: 'pass'})
  })

  it('refuses a GTID link procedure whose parameters come in another order (E_PROCEDURE_SIGNATURE, exit 1)', async () => {
    await redeclare(
      'az_replication_change_master_with_gtid',
      'IN master_host VARCHAR(255), IN master_port INT, IN master_user VARCHAR(128), IN master_password VARCHAR(255), IN master_gtid_pos VARCHAR(4096), IN master_ssl_ca TEXT',
    )
    const error = (await open(['link', 'start'])) as DatainError
    expect(error).toBeInstanceOf(DatainError)
    expect(error.code).toBe('E_PROCEDURE_SIGNATURE')
    expect(error.oclif.exit).toBe(1)
    expect(error.message).toContain('datain calls mysql.az_replication_change_master_with_gtid with 6 arguments (source host: text, user: text, password: text, port: number')
    expect(error.message).toContain('the replica declares 6 parameters (IN master_host varchar, IN master_port int, IN master_user varchar')
    expect(error.message.split('\n')).toHaveLength(1)
    // File/position mode calls the other procedure: not concerned.
    expect(await open(['link'], false)).toBe('opened')

    const result = await check()
    expect(result).toMatchObject({status: 'fail', offenders: ['mysql.az_replication_change_master_with_gtid']})
    expect((result as {message: string}).message).toContain('the replica declares 6 parameters')
  })

  it("refuses a file/position link procedure with another count (MySQL Flexible's 5-argument form)", async () => {
    await redeclare('az_replication_change_master', `${CONNECTION}, IN master_ssl_ca TEXT`)
    const error = (await open(['link'], false)) as DatainError
    expect(error.code).toBe('E_PROCEDURE_SIGNATURE')
    expect(error.message).toContain('datain calls mysql.az_replication_change_master with 7 arguments')
    expect(error.message).toContain('declares 5 parameters')
    expect(await check(false)).toMatchObject({status: 'fail', offenders: ['mysql.az_replication_change_master']})
  })

  it('refuses a control that takes a parameter datain does not pass, and an OUT parameter where datain passes a value', async () => {
    await redeclare('az_replication_stop', 'IN channel VARCHAR(64)')
    expect(((await open(['stop'])) as DatainError).code).toBe('E_PROCEDURE_SIGNATURE')
    expect(await open(['start'])).toBe('opened')
    await redeclare('az_replication_change_master_with_gtid', `${CONNECTION}, OUT master_gtid_pos VARCHAR(4096), IN master_ssl_ca TEXT`)
    const error = (await open(['link'])) as DatainError
    expect(error.code).toBe('E_PROCEDURE_SIGNATURE')
    expect(error.message).toContain('OUT master_gtid_pos varchar')
  })

  it('shows a hostile parameter name on one line', async () => {
    await redeclare('az_replication_start', 'IN `x\n\rDROP` INT')
    const error = (await open(['start'])) as DatainError
    expect(error.code).toBe('E_PROCEDURE_SIGNATURE')
    expect(error.message).toContain('declares 1 parameter (IN x??DROP int)')
    expect(error.message.split('\n')).toHaveLength(1)
  })

  it('warns (does not fail) when only the optional skip procedure is declared otherwise', async () => {
    await redeclare('az_replication_skip_counter', 'IN n INT')
    const result = await check()
    expect(result).toMatchObject({status: 'warn', offenders: ['mysql.az_replication_skip_counter']})
    expect((result as {message: string}).message).toContain('declared with parameters datain does not pass')
  })

  it('says so and goes on when the replica does not show the parameters to the user', async () => {
    const user = 'sig_nobody'
    const password = 'Sig-nobody-1234'
    await sandbox.replica.server.execute([`CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY '${password}'`])
    const conn = await connectTo('replica', {
      host: '127.0.0.1',
      port: sandbox.replica.server.port,
      user,
      password,
      tls: {ca: readFileSync(sandbox.replica.sslCa, 'utf8'), verify: true},
    })
    try {
      const reading = await readProcedureSignatures(conn, 'mysql', ['az_replication_change_master_with_gtid', 'az_replication_start'])
      expect(reading).toEqual({visible: false, why: 'information_schema.PARAMETERS shows no parameter of mysql.az_replication_change_master_with_gtid'})
    } finally {
      await conn.end()
      await sandbox.replica.server.execute([`DROP USER '${user}'@'%'`])
    }
  })
})
