import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile, chmod} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {afterEach, beforeEach, describe, expect, test} from 'vitest'
import {DatainError} from '../../src/lib/errors.js'
import {listProfiles, openProfile, type ProfileStore} from '../../src/state/profile-store.js'
import {type SettingsInput} from '../../src/state/schema.js'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const isRoot = process.getuid?.() === 0

let home: string
beforeEach(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'datain-store-'))
})
afterEach(async () => {
  await chmod(home, 0o700).catch(() => undefined)
  await rm(home, {recursive: true, force: true})
})

function settings(overrides: Partial<SettingsInput> = {}): SettingsInput {
  return {
    createdAt: '2026-01-02T03:04:05.000Z',
    target: 'azure-mariadb',
    source: {host: 'db1.internal', port: 3306, user: 'admin', publicHost: 'db1.example.com', ip: '203.0.113.7', ssl: 'on'},
    replica: {host: 'rep.mariadb.database.azure.com', port: 3306, user: 'admin@rep', ssl: 'on', tlsVerify: true},
    azure: {subscription: 'sub', resourceGroup: 'rg', server: 'rep', useArm: true, manageFirewall: true},
    databases: ['shop'],
    gtid: true,
    replicationUser: 'datain_repl',
    unfilteredSubset: false,
    ...overrides,
  }
}

/** The DatainError a promise rejects with; fails the test on anything else. */
async function datainError(promise: Promise<unknown>): Promise<DatainError> {
  const error = await promise.then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(error).toBeInstanceOf(DatainError)
  return error as DatainError
}

async function mode(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777
}

async function lockedStore(name = 'prod'): Promise<ProfileStore> {
  const store = openProfile(home, name)
  await store.lock('datain test')
  return store
}

describe('profile names', () => {
  test.each(['', '.hidden', '..', 'a/b', 'a b', 'x'.repeat(65), 'naïve', 'a\\b'])('%j is E_PROFILE_NAME exit 2', (name) => {
    let error: unknown
    try {
      openProfile(home, name)
    } catch (caught) {
      error = caught
    }

    expect(error).toBeInstanceOf(DatainError)
    expect((error as DatainError).code).toBe('E_PROFILE_NAME')
    expect((error as DatainError).exitCode).toBe(2)
  })

  test.each(['default', 'prod-eu_2', 'v1.2', 'x'.repeat(64), '_x', '-x'])('%j is accepted', (name) => {
    expect(openProfile(home, name).dir).toBe(path.join(home, 'profiles', name))
  })
})

describe('round trips', () => {
  test('settings are written with version and updatedAt and read back', async () => {
    const store = openProfile(home, 'prod')
    expect(await store.exists()).toBe(false)
    const written = await store.writeSettings(settings())
    expect(written.version).toBe(1)
    expect(await store.exists()).toBe(true)
    expect(await store.readSettings()).toEqual(written)
    expect(await openProfile(home, 'prod').readSettings()).toEqual(written)
  })

  test('a missing profile is E_PROFILE_NOT_FOUND exit 2 naming it and datain init', async () => {
    const error = await datainError(openProfile(home, 'ghost').readSettings())
    expect(error.code).toBe('E_PROFILE_NOT_FOUND')
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain('"ghost"')
    expect(error.message).toContain('datain init --profile ghost')
  })

  test('checkpoint: empty when absent, then reset, running, done with output, failed with error', async () => {
    const store = await lockedStore()
    expect(await store.readCheckpoint()).toMatchObject({version: 2, steps: {}, stop: {}})
    expect((await store.readCheckpoint()).fingerprint).toBeUndefined()

    await store.resetCheckpoint('fp-1')
    await store.markStep('snapshot', {state: 'running'})
    const running = (await store.readCheckpoint()).steps.snapshot
    expect(running).toMatchObject({state: 'running'})
    expect(running?.finishedAt).toBeUndefined()

    const output = {databases: ['shop'], createdDatabases: ['shop'], binlogFile: 'mysql-bin.000003', binlogPosition: 1234, gtidPosition: '0-1-42', bytes: 10, rows: 1, seconds: 0.5}
    await store.markStep('snapshot', {state: 'done', output})
    await store.markStep('link', {state: 'failed', error: {code: 'E_LINK', message: 'no route'}})

    const checkpoint = await openProfile(home, 'prod').readCheckpoint()
    expect(checkpoint.fingerprint).toBe('fp-1')
    expect(checkpoint.steps.snapshot).toMatchObject({state: 'done', output, startedAt: running?.startedAt})
    expect(checkpoint.steps.snapshot?.finishedAt).toBeDefined()
    expect(checkpoint.steps.link).toMatchObject({state: 'failed', error: {code: 'E_LINK', message: 'no route'}})

    // Running again starts the step afresh: no stale output of the previous attempt.
    await store.markStep('snapshot', {state: 'running'})
    expect((await store.readCheckpoint()).steps.snapshot?.output).toBeUndefined()
  })

  test('concurrent markStep calls in one process lose no update', async () => {
    const store = await lockedStore()
    await store.resetCheckpoint('fp')
    const steps = ['preflight', 'binlog', 'replication-user', 'firewall', 'snapshot', 'link', 'replicate'] as const
    await Promise.all(steps.map((step) => store.markStep(step, {state: 'failed', error: {code: 'E_TEST', message: step}})))
    expect(Object.keys((await store.readCheckpoint()).steps).sort()).toEqual([...steps].sort())
  })

  test('checkpoint changes need the lock, and markStep needs a fingerprint', async () => {
    const store = openProfile(home, 'prod')
    await expect(store.resetCheckpoint('fp')).rejects.toThrow(/without holding its lock/)
    await expect(store.markStep('binlog', {state: 'running'})).rejects.toThrow(/without holding its lock/)
    const lock = await store.lock()
    await expect(store.markStep('binlog', {state: 'running'})).rejects.toThrow(/resetCheckpoint/)
    await lock.release()
    await expect(store.resetCheckpoint('fp')).rejects.toThrow(/without holding its lock/)
  })

  test('secrets: undefined when absent, then round trip', async () => {
    const store = openProfile(home, 'prod')
    expect(await store.readSecrets()).toBeUndefined()
    await store.writeSecrets({replicationPassword: 'S3cr3t!'})
    expect(await store.readSecrets()).toEqual({replicationPassword: 'S3cr3t!'})
  })

  test('no server password reaches settings.json', async () => {
    const store = openProfile(home, 'prod')
    const withPassword = {...settings(), source: {...settings().source, password: 'hunter2'}} as SettingsInput
    await expect(store.writeSettings(withPassword)).rejects.toThrow(/refusing to write invalid settings/)
    expect(await store.exists()).toBe(false)
  })

  test('listProfiles lists recorded profiles only, sorted', async () => {
    expect(await listProfiles(home)).toEqual([])
    await openProfile(home, 'zeta').writeSettings(settings())
    await openProfile(home, 'alpha').writeSettings(settings())
    await openProfile(home, 'empty').journal('init.started')
    await mkdir(path.join(home, 'profiles', '.trash'))
    expect(await listProfiles(home)).toEqual(['alpha', 'zeta'])
  })

  test('remove deletes the profile folder', async () => {
    const store = openProfile(home, 'prod')
    await store.writeSettings(settings())
    await store.remove()
    expect(await store.exists()).toBe(false)
    await expect(stat(store.dir)).rejects.toThrow(/ENOENT/)
    await store.writeSettings(settings())
    expect(await store.exists()).toBe(true)
  })
})

describe('file modes', () => {
  test('files are 0600, the profile and profiles folders 0700', async () => {
    const store = await lockedStore()
    await store.writeSettings(settings())
    await store.resetCheckpoint('fp')
    await store.writeSecrets({replicationPassword: 'pw'})
    await store.journal('start.begin')
    for (const file of ['settings.json', 'checkpoint.json', 'secrets.json', 'journal.jsonl', 'lock']) {
      expect([file, await mode(path.join(store.dir, file))]).toEqual([file, 0o600])
    }

    expect(await mode(store.dir)).toBe(0o700)
    expect(await mode(path.join(home, 'profiles'))).toBe(0o700)
  })

  test('wider modes left by a user are narrowed on the next write', async () => {
    const store = openProfile(home, 'prod')
    await mkdir(store.dir, {recursive: true, mode: 0o755})
    await chmod(path.join(home, 'profiles'), 0o755)
    await chmod(store.dir, 0o755)
    await writeFile(path.join(store.dir, 'secrets.json'), '{"replicationPassword":"old"}', {mode: 0o644})
    await writeFile(path.join(store.dir, 'journal.jsonl'), '', {mode: 0o644})

    await store.writeSecrets({replicationPassword: 'new'})
    await store.journal('rotated')
    expect(await mode(path.join(store.dir, 'secrets.json'))).toBe(0o600)
    expect(await mode(path.join(store.dir, 'journal.jsonl'))).toBe(0o600)
    expect(await mode(store.dir)).toBe(0o700)
    expect(await mode(path.join(home, 'profiles'))).toBe(0o700)
  })
})

describe('damaged files', () => {
  async function recorded(): Promise<ProfileStore> {
    const store = await lockedStore()
    await store.writeSettings(settings())
    await store.resetCheckpoint('fp')
    await store.markStep('snapshot', {state: 'running', output: {createdDatabases: ['shop']}})
    return store
  }

  test.each([
    ['not JSON', 'settings.json', 'this is not json', /not valid JSON/],
    ['truncated', 'settings.json', '{"version": 1, "createdAt": "2026-', /not valid JSON, perhaps truncated/],
    ['empty', 'checkpoint.json', '', /the file is empty/],
  ])('%s %s is E_STATE_CORRUPT naming the file', async (_what, file, content, problem) => {
    const store = await recorded()
    const target = path.join(store.dir, file)
    await writeFile(target, content)
    const read = file === 'settings.json' ? store.readSettings() : store.readCheckpoint()
    const error = await datainError(read)
    expect(error.code).toBe('E_STATE_CORRUPT')
    expect(error.exitCode).toBe(1)
    expect(error.message).toContain(target)
    expect(error.message).toMatch(problem)
    expect(error.message).toContain('datain init --force')
  })

  test('a hand-edited step state names the key and the allowed values', async () => {
    const store = await recorded()
    const file = path.join(store.dir, 'checkpoint.json')
    const checkpoint = JSON.parse(await readFile(file, 'utf8'))
    checkpoint.steps.snapshot.state = 'finished'
    await writeFile(file, JSON.stringify(checkpoint))
    const error = await datainError(store.readCheckpoint())
    expect(error.code).toBe('E_STATE_CORRUPT')
    expect(error.message).toContain(file)
    expect(error.message).toMatch(/steps\.snapshot\.state: .*expected one of "running"\|"done"\|"failed"\|"interrupted"/)
  })

  test('a hand-edited settings key with a typo or a wrong type is reported', async () => {
    const store = await recorded()
    const file = path.join(store.dir, 'settings.json')
    const content = JSON.parse(await readFile(file, 'utf8'))
    content.source.port = '3306'
    content.replica.sslca = '/etc/ca.pem'
    await writeFile(file, JSON.stringify(content))
    const error = await datainError(store.readSettings())
    expect(error.code).toBe('E_STATE_CORRUPT')
    expect(error.message).toContain('source.port: ')
    expect(error.message).toContain('sslca')
  })

  test('markStep on a damaged checkpoint fails and leaves the file as it was', async () => {
    const store = await recorded()
    const file = path.join(store.dir, 'checkpoint.json')
    await writeFile(file, '{"version":1,')
    const error = await datainError(store.markStep('link', {state: 'running'}))
    expect(error.code).toBe('E_STATE_CORRUPT')
    expect(await readFile(file, 'utf8')).toBe('{"version":1,')
  })

  test('a corrupt secrets file is E_STATE_CORRUPT too', async () => {
    const store = await recorded()
    await writeFile(path.join(store.dir, 'secrets.json'), '{"replicationPassword": 42}')
    expect((await datainError(store.readSecrets())).code).toBe('E_STATE_CORRUPT')
  })
})

describe('versions', () => {
  test.each(['settings.json', 'checkpoint.json'])('%s from a newer datain is E_PROFILE_VERSION exit 2', async (file) => {
    const store = await lockedStore()
    await store.writeSettings(settings())
    await store.resetCheckpoint('fp')
    const target = path.join(store.dir, file)
    const content = JSON.parse(await readFile(target, 'utf8'))
    await writeFile(target, JSON.stringify({...content, version: content.version + 1, somethingNew: true}))
    const error = await datainError(file === 'settings.json' ? store.readSettings() : store.readCheckpoint())
    expect(error.code).toBe('E_PROFILE_VERSION')
    expect(error.exitCode).toBe(2)
    expect(error.message).toContain('written by a newer datain')
    expect(error.message).toContain(target)
  })

  test('a version no datain wrote (0) is E_STATE_CORRUPT', async () => {
    const store = openProfile(home, 'prod')
    await store.writeSettings(settings())
    const target = path.join(store.dir, 'settings.json')
    await writeFile(target, JSON.stringify({...JSON.parse(await readFile(target, 'utf8')), version: 0}))
    const error = await datainError(store.readSettings())
    expect(error.code).toBe('E_STATE_CORRUPT')
    expect(error.message).toContain('version 0')
  })
})

describe('write failures', () => {
  test('a DATAIN_HOME the system refuses to write is E_STATE_WRITE exit 1 naming the path', async () => {
    // Root ignores permission bits; /proc refuses new entries even to root (and Node's own recursive
    // mkdir loops forever there, which this also guards against).
    const refused = isRoot ? `/proc/self/datain-test-${process.pid}` : path.join(home, 'read-only')
    if (!isRoot) {
      await mkdir(refused, {mode: 0o500})
    }

    const store = openProfile(refused, 'prod')
    const error = await datainError(store.writeSettings(settings()))
    expect(error.code).toBe('E_STATE_WRITE')
    expect(error.exitCode).toBe(1)
    expect(error.message).toContain(refused)
    expect((await datainError(store.journal('x'))).code).toBe('E_STATE_WRITE')
    expect((await datainError(store.lock())).code).toBe('E_STATE_WRITE')
  })

  test('a DATAIN_HOME that is a file is E_STATE_WRITE (ENOTDIR)', async () => {
    const file = path.join(home, 'not-a-folder')
    await writeFile(file, 'x')
    const error = await datainError(openProfile(file, 'prod').writeSettings(settings()))
    expect(error.code).toBe('E_STATE_WRITE')
    expect(error.message).toContain('ENOTDIR')
    expect(error.message).toContain(file)
    expect(await openProfile(file, 'prod').exists()).toBe(false)
  })

  test('a write that fails half-way (file size limit, like a full disk) leaves the previous settings.json intact', async () => {
    const store = openProfile(home, 'prod')
    await store.writeSettings(settings())
    const file = path.join(store.dir, 'settings.json')
    const before = await readFile(file, 'utf8')

    // A real failing write, not a mocked fs: under RLIMIT_FSIZE the first write(2) of the temp file
    // is cut short at 64 KiB without an error and the next one fails with EFBIG, as writes do when a
    // disk fills up (ENOSPC). A writer that ignores the short count would publish a truncated file.
    const moduleUrl = pathToFileURL(path.join(repoRoot, 'src/state/profile-store.ts')).href
    const code = `
      const {openProfile} = await import(${JSON.stringify(moduleUrl)})
      const store = openProfile(${JSON.stringify(home)}, 'prod')
      const settings = JSON.parse(process.env.SETTINGS)
      settings.databases = Array.from({length: 20000}, (_, i) => 'database_' + i)
      try { await store.writeSettings(settings); console.log(JSON.stringify({ok: true})) }
      catch (error) { console.log(JSON.stringify({code: error.code, message: error.message})) }
    `
    const child = spawn('bash', ['-c', 'ulimit -f 64 && exec "$0" --import tsx --input-type=module -e "$CODE"', process.execPath], {
      cwd: repoRoot,
      env: {...process.env, CODE: code, SETTINGS: JSON.stringify(settings())},
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const [exitCode, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
    expect({exitCode, signal, output}).toMatchObject({exitCode: 0, signal: null})

    const result = JSON.parse(output.trim().split('\n').at(-1) ?? '{}')
    expect(result.code).toBe('E_STATE_WRITE')
    expect(result.message).toContain('EFBIG')
    expect(result.message).toContain(file)
    expect(await readFile(file, 'utf8')).toBe(before)
    expect((await store.readSettings()).databases).toEqual(['shop'])
    expect(await readdir(store.dir)).toEqual(['settings.json'])
  })
})
