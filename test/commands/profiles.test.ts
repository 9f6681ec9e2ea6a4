import {chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import type {ProfileJournal} from '../../src/profiles/journal.js'
import type {ProfileList} from '../../src/profiles/list.js'
import {datain} from '../helpers/datain.js'

/**
 * `datain profiles` against the built CLI: a real setup walked through its states, and profile folders
 * written as a crash or a hand edit would leave them. It reads, it never takes a lock.
 */

async function list(env: Record<string, string>): Promise<ProfileList> {
  const result = await datain(['profiles', '--json'], env)
  expect(result.exitCode, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as ProfileList
}

function standOf(profiles: ProfileList, name: string): string | undefined {
  return profiles.profiles.find((p) => p.name === name)?.standText
}

describe('datain profiles on hand-written profile folders', () => {
  let home: string
  const settings = {
    version: 1,
    createdAt: '2026-12-01T10:00:00.000Z',
    updatedAt: '2026-12-01T10:00:00.000Z',
    source: {host: 'db1.example.com', port: 3306, user: 'admin', publicHost: 'db1.example.com', ssl: 'on'},
    replica: {host: 'r.mariadb.database.azure.com', port: 3306, user: 'admin@r', tlsVerify: true},
    azure: {useArm: true, manageFirewall: true},
    databases: [],
    gtid: true,
    replicationUser: 'datain_repl',
  }
  const done = {state: 'done', startedAt: '2026-12-01T10:01:00.000Z', finishedAt: '2026-12-01T10:02:00.000Z'}

  async function profile(name: string, files: Record<string, string>): Promise<string> {
    const dir = path.join(home, 'profiles', name)
    await mkdir(dir, {recursive: true, mode: 0o700})
    for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text, {mode: 0o600})
    return dir
  }

  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'datain-profiles-'))
  })
  afterAll(async () => {
    await rm(home, {recursive: true, force: true})
  })

  it('says there is none in an empty DATAIN_HOME, exit 0', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'datain-profiles-empty-'))
    try {
      const result = await datain(['profiles'], {DATAIN_HOME: empty})
      expect(result.exitCode).toBe(0)
      expect(result.stdout).toContain('No profile in')
      expect(await list({DATAIN_HOME: empty})).toEqual({home: empty, profiles: []})
    } finally {
      await rm(empty, {recursive: true, force: true})
    }
  })

  it('lists a failed snapshot, a corrupt profile beside the others, and takes no lock', async () => {
    const steps = {preflight: done, binlog: done, 'replication-user': done, firewall: done}
    const failed = {...steps, snapshot: {state: 'failed', startedAt: done.startedAt, finishedAt: done.finishedAt, error: {code: 'E_X', message: 'boom'}}}
    const checkpoint = (s: object) => JSON.stringify({version: 1, fingerprint: 'f', updatedAt: done.finishedAt, steps: s})
    await profile('fresh', {'settings.json': JSON.stringify(settings)})
    const failing = await profile('failing', {'settings.json': JSON.stringify(settings), 'checkpoint.json': checkpoint(failed)})
    await profile('broken', {'settings.json': '{"version": 1, "sour'})
    await profile('half', {'settings.json': JSON.stringify(settings), 'checkpoint.json': '[]'})
    // A hand-edited host with a terminal escape sequence and a C1 control: shown escaped, never raw.
    await profile('hostile', {'settings.json': JSON.stringify({...settings, source: {...settings.source, host: 'db\u001b[2J\u009b1m'}})})
    // A live holder (this very process): a reader that took the lock would fail or replace it.
    const lock = JSON.stringify({pid: process.pid, startedAt: done.startedAt, hostname: (await import('node:os')).hostname(), command: 'start', token: 't'})
    await writeFile(path.join(failing, 'lock'), lock, {mode: 0o600})

    const profiles = await list({DATAIN_HOME: home})
    expect(profiles.profiles.map((p) => p.name)).toEqual(['broken', 'failing', 'fresh', 'half', 'hostile'])
    expect(standOf(profiles, 'fresh')).toBe('not started')
    expect(standOf(profiles, 'failing')).toBe('snapshot failed')
    const broken = profiles.profiles.find((p) => p.name === 'broken')!
    expect(broken).toMatchObject({stand: 'corrupt', target: null, source: null})
    expect(broken.problem).toContain('settings.json')
    expect(profiles.profiles.find((p) => p.name === 'half')).toMatchObject({stand: 'corrupt', target: 'azure-mariadb', source: 'admin@db1.example.com:3306'})
    expect(await readFile(path.join(failing, 'lock'), 'utf8')).toBe(lock)

    const text = await datain(['profiles'], {DATAIN_HOME: home})
    expect(text.exitCode).toBe(0)
    expect(text.stdout).toMatch(/^failing\s+azure-mariadb\s+admin@db1\.example\.com:3306\s+admin@r@r\.mariadb\.database\.azure\.com:3306\s+snapshot failed$/m)
    expect(text.stdout).toMatch(/^broken: The state file .*settings\.json/m)
    expect(text.stderr).toBe('')
    expect(text.stdout).toContain('admin@db\\u001b[2J\\u009b1m:3306')
    expect(text.stdout).not.toContain('\u001b')
    expect(text.stdout).not.toContain('\u009b')
  })

  it('--journal on a profile that does not exist is a usage error naming datain profiles', async () => {
    const result = await datain(['profiles', '--journal', '-p', 'nope'], {DATAIN_HOME: home})
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toContain('Code: E_PROFILE_NOT_FOUND')
    expect(result.stderr).toContain('Try this: datain profiles')
    expect(result.stderr).not.toMatch(/\n\s+at /)
    expect((await datain(['profiles', '--tail', '3'], {DATAIN_HOME: home})).exitCode).toBe(2)
  })

  it('lists profiles in a DATAIN_HOME it may only read', async () => {
    const dir = path.join(home, 'profiles')
    await chmod(dir, 0o500)
    try {
      expect((await list({DATAIN_HOME: home})).profiles).toHaveLength(5)
      expect((await stat(dir)).mode & 0o777).toBe(0o500)
    } finally {
      await chmod(dir, 0o700)
    }
  })
})

describe('datain profiles through a real setup', () => {
  let sandbox: Sandbox
  let home: string
  let env: Record<string, string>

  beforeAll(async () => {
    sandbox = await startSandbox({sampleRows: 200})
    home = await mkdtemp(path.join(tmpdir(), 'datain-profiles-setup-'))
    env = {...sandbox.env(), DATAIN_HOME: home}
  })
  afterAll(async () => {
    await sandbox?.stop()
    await rm(home, {recursive: true, force: true})
  })

  it('follows init, start, stop and stop --remove, and shows the journal without a secret', async () => {
    expect((await datain(['init'], env)).exitCode).toBe(0)
    expect(standOf(await list(env), 'default')).toBe('not started')
    const start = await datain(['start'], env)
    expect(start.exitCode, start.stderr).toBe(0)
    const running = (await list(env)).profiles[0]!
    expect(running).toMatchObject({name: 'default', target: 'azure-mariadb', stand: 'replicating', standText: 'replicating (setup done)'})
    expect(running.replica).toContain(sandbox.env().DATAIN_REPLICA_HOST)
    expect((await datain(['stop'], env)).exitCode).toBe(0)
    expect(standOf(await list(env), 'default')).toMatch(/^stopped/)
    expect((await datain(['stop', '--remove'], env)).exitCode).toBe(0)
    expect(standOf(await list(env), 'default')).toMatch(/^removed \(link removed at /)

    const journal = await datain(['profiles', '--journal', '--json'], env)
    expect(journal.exitCode).toBe(0)
    const events = (JSON.parse(journal.stdout) as ProfileJournal).entries.map((e) => e.event)
    expect(events).toEqual(expect.arrayContaining(['init', 'step-done', 'setup-complete', 'replication-stopped', 'link-removed']))
    const tail = await datain(['profiles', '--journal', '--tail', '1'], env)
    expect(tail.stdout.trim().split('\n')).toHaveLength(1)
    expect(tail.stdout).toContain('link-removed')
    const secrets = JSON.parse(await readFile(path.join(home, 'profiles', 'default', 'secrets.json'), 'utf8')) as {replicationPassword: string}
    const all = (await datain(['profiles', '--journal'], env)).stdout + journal.stdout
    for (const secret of [secrets.replicationPassword, sandbox.source.password, sandbox.replica.password]) expect(all).not.toContain(secret)
  })
})
