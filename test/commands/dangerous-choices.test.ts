import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {datain, resultJson} from '../helpers/datain.js'
import {allowLoopback, blockLoopback} from '../helpers/preflight.js'

/**
 * The choices that can destroy something are made for one run and never saved: each `datain start`
 * that needs them names them again, and no profile (not even an old one that says `force: true`)
 * grants them. The general log is refused whatever the flags.
 */

let sandbox: Sandbox
let home: string
let env: Record<string, string>

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 50})
  home = await mkdtemp(path.join(tmpdir(), 'datain-danger-'))
  env = {...sandbox.env(), DATAIN_HOME: home}
})

afterAll(async () => {
  await sandbox?.stop()
  await rm(home, {recursive: true, force: true})
})

afterEach(() => {
  sandbox.gateway.namedIp = undefined
})

const settingsFile = (profile: string) => path.join(home, 'profiles', profile, 'settings.json')
const checkpointFile = (profile: string) => path.join(home, 'profiles', profile, 'checkpoint.json')
const run = (args: string[], extra: Record<string, string> = {}) => datain(args, {...env, ...extra})
const errorOf = (result: {stdout: string}) => resultJson<{error: {code: string; message: string}}>(result.stdout).error

async function masterHost(): Promise<string | undefined> {
  const [row] = await sandbox.replica.server.query<Array<{Master_Host: string}>>('SHOW SLAVE STATUS')
  return row?.Master_Host
}

describe('dangerous choices, per run', () => {
  it('an old profile with force: true grants nothing; --replace-databases and --take-over-replica act for their run only; the general log is refused whatever the flags', async () => {
    const profile = 'danger'
    allowLoopback(sandbox)
    // Someone else's database and link on the replica.
    await sandbox.replica.server.execute([
      'CREATE DATABASE shop',
      'CREATE TABLE shop.theirs (id INT PRIMARY KEY)',
      "CHANGE MASTER TO MASTER_HOST = '192.0.2.7', MASTER_PORT = 3306, MASTER_USER = 'someone', MASTER_USE_GTID = no",
    ])
    expect((await run(['init', '-p', profile, '--databases', 'shop', '--json'])).exitCode).toBe(1)
    expect(await readFile(settingsFile(profile), 'utf8')).not.toContain('force')

    // A profile written by an older datain, with the force it used to keep for every run.
    const old = JSON.parse(await readFile(settingsFile(profile), 'utf8')) as Record<string, unknown>
    await writeFile(settingsFile(profile), JSON.stringify({...old, force: true}), {mode: 0o600})

    const refused = await run(['start', '-p', profile, '--json'])
    expect(refused.exitCode, refused.stderr).toBe(1)
    expect(errorOf(refused)).toMatchObject({code: 'E_PREFLIGHT', message: expect.stringContaining("'datain start --replace-databases'")})
    // The other source's link is found by preflight, before hours of copy, not by the link step after it.
    expect(errorOf(refused).message).toContain("'datain start --take-over-replica'")
    expect(errorOf(refused).message).not.toContain('--force')

    const plan = await run(['start', '-p', profile, '--dry-run', '--replace-databases'])
    expect(plan.stdout).toContain('dropped and copied again (--replace-databases, this run only)')
    expect((await run(['start', '-p', profile, '--dry-run'])).stdout).not.toContain('--replace-databases')

    // Killed before the copy: the database is still theirs, the link still theirs, and the next run must ask again.
    const killed = await run(['start', '-p', profile, '--replace-databases', '--take-over-replica'], {DATAIN_TEST_CRASH_AT: 'snapshot:start'})
    expect(killed.exitCode).not.toBe(0)
    const again = await run(['start', '-p', profile, '--json'])
    expect(errorOf(again).code).toBe('E_PREFLIGHT')
    const theirs = async () =>
      Number((await sandbox.replica.server.query<Array<{n: bigint}>>("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'theirs'"))[0]!.n)
    expect(await theirs()).toBe(1)
    expect(await masterHost()).toBe('192.0.2.7')

    // One choice is not the other: with --replace-databases alone the link is refused, and nothing is dropped.
    const replaced = await run(['start', '-p', profile, '--replace-databases', '--json'])
    expect(errorOf(replaced)).toMatchObject({code: 'E_PREFLIGHT', message: expect.stringContaining('--take-over-replica')})
    expect(await theirs()).toBe(1)
    expect(await masterHost()).toBe('192.0.2.7')

    // No flag lets the replication password into the general log.
    await sandbox.replica.server.execute(['SET GLOBAL general_log = ON'])
    try {
      const logged = await run(['start', '-p', profile, '--take-over-replica', '--replace-databases', '--json'])
      expect(errorOf(logged).code).toBe('E_REPLICA_GENERAL_LOG')
      expect(await masterHost()).toBe('192.0.2.7')
    } finally {
      await sandbox.replica.server.execute(['SET GLOBAL general_log = OFF'])
    }

    const taken = await run(['start', '-p', profile, '--take-over-replica'])
    expect(taken.exitCode, taken.stderr + taken.stdout).toBe(0)
    expect(await masterHost()).toBe('127.0.0.1')
    expect(await theirs()).toBe(0)

    const saved = await readFile(settingsFile(profile), 'utf8')
    for (const word of ['replace', 'takeOver', 'take-over']) expect(saved).not.toContain(word)
    // The journal says which runs made them.
    const journal = (await readFile(path.join(home, 'profiles', profile, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(journal.filter((entry) => entry.event === 'run-options').map(({replaceDatabases, takeOverReplica}) => ({replaceDatabases, takeOverReplica}))).toEqual([
      {replaceDatabases: true, takeOverReplica: true},
      {replaceDatabases: true, takeOverReplica: false},
      {replaceDatabases: true, takeOverReplica: true},
      {replaceDatabases: false, takeOverReplica: true},
    ])
    expect((await run(['stop', '-p', profile, '--remove', '--cleanup'])).exitCode).toBe(0)
    await sandbox.replica.server.execute(['DROP DATABASE shop'])
  })
})

describe('init --force', () => {
  it('records over damaged settings and sets a damaged checkpoint aside, saying what it discarded; without --force it only reports', async () => {
    const profile = 'damaged'
    allowLoopback(sandbox)
    expect((await run(['init', '-p', profile, '--databases', 'shop'])).exitCode).toBe(0)
    await writeFile(settingsFile(profile), '{"version": 1, "source": ', {mode: 0o600})
    await writeFile(checkpointFile(profile), 'not json', {mode: 0o600})

    const plain = await run(['init', '-p', profile, '--databases', 'shop', '--json'])
    expect(plain.exitCode).toBe(1)
    expect(errorOf(plain)).toMatchObject({code: 'E_STATE_CORRUPT'})

    const forced = await run(['init', '-p', profile, '--databases', 'shop', '--force'])
    expect(forced.exitCode, forced.stderr + forced.stdout).toBe(0)
    expect(forced.stderr).toMatch(/settings file was damaged; --force discards it \(kept as .*settings\.json\.damaged-/)
    expect(forced.stderr).toMatch(/checkpoint was damaged; --force discards it \(kept as .*checkpoint\.json\.damaged-/)
    const files = await readdir(path.join(home, 'profiles', profile))
    expect(files.filter((f) => f.includes('.damaged-')).length).toBe(2)
    expect(JSON.parse(await readFile(settingsFile(profile), 'utf8'))).toMatchObject({databases: ['shop']})
    expect((await run(['status', '-p', profile, '--json'])).stdout).not.toContain('E_STATE_CORRUPT')
  })
})

describe("the address in Azure's error 9000", () => {
  it('is not trusted when it is 0.0.0.0: init says so, start opens nothing (exit 4), and --client-ip 0.0.0.0 is bad input', async () => {
    const profile = 'anywhere'
    blockLoopback(sandbox)
    sandbox.gateway.namedIp = '0.0.0.0'
    try {
      const init = await run(['init', '-p', profile, '--databases', 'shop'])
      expect(init.exitCode, init.stderr).toBe(0)
      expect(init.stdout).toContain('named an address datain will not open the firewall to')
      expect(init.stdout).toContain('0.0.0.0')
      expect(init.stdout).toContain('--client-ip')
      expect(init.stdout).not.toContain("'datain start' adds one first")

      const start = await run(['start', '-p', profile, '--json'])
      expect(start.exitCode).toBe(4)
      expect(errorOf(start)).toMatchObject({code: 'E_CLIENT_IP_UNTRUSTED', message: expect.stringContaining('allow all Azure services')})
      expect([...sandbox.azure.state.firewallRules.values()].filter((r) => r.startIpAddress === '0.0.0.0')).toEqual([])
      expect([...sandbox.azure.state.firewallRules.keys()].filter((name) => name.includes('client'))).toEqual([])

      const flag = await run(['init', '-p', 'anywhere-flag', '--client-ip', '0.0.0.0'])
      expect(flag.exitCode).toBe(2)
      expect(flag.stderr).toContain('--client-ip: 0.0.0.0 is in 0.0.0.0/8')
      const source = await run(['init', '-p', 'anywhere-source', '--source-ip', '255.255.255.255'])
      expect(source.exitCode).toBe(2)
      expect(source.stderr).toContain('--source-ip: 255.255.255.255 is in 240.0.0.0/4')
    } finally {
      sandbox.gateway.namedIp = undefined
      allowLoopback(sandbox)
    }
  })
})
