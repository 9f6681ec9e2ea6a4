import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process'
import {createHash} from 'node:crypto'
import {once} from 'node:events'
import {mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {createInterface} from 'node:readline'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {afterEach, beforeEach, describe, expect, test} from 'vitest'
import {DatainError} from '../../src/lib/errors.js'
import {acquireLock, describeTakeOver, type Lock, type LockInfo} from '../../src/state/lock.js'
import {processStartOf, STALE_AFTER_MS, thisProcess} from '../../src/state/lock-liveness.js'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const lockModule = pathToFileURL(path.join(repoRoot, 'src/state/lock.ts')).href

let dir: string
let lockFile: string
const held: Lock[] = []
const children: ChildProcessWithoutNullStreams[] = []

beforeEach(async () => {
  dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'datain-lock-')), 'prod')
  await mkdir(dir)
  lockFile = path.join(dir, 'lock')
})
afterEach(async () => {
  for (const lock of held.splice(0)) await lock.release()
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await rm(path.dirname(dir), {recursive: true, force: true})
})

async function take(command = 'datain start'): Promise<Lock> {
  const lock = await acquireLock(dir, {command})
  held.push(lock)
  return lock
}

async function lockedError(promise: Promise<unknown>): Promise<DatainError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(DatainError)
  expect((error as DatainError).code).toBe('E_LOCKED')
  expect((error as DatainError).exitCode).toBe(1)
  return error as DatainError
}

/** The pid of a process that has certainly exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''])
  await once(child, 'exit')
  return child.pid!
}

/** A separate datain-like process that takes the lock and keeps it until its stdin closes. */
async function holderProcess(): Promise<{child: ChildProcessWithoutNullStreams; info: LockInfo}> {
  const code = `
    const {acquireLock} = await import(${JSON.stringify(lockModule)})
    const lock = await acquireLock(${JSON.stringify(dir)}, {command: 'datain start --profile prod'})
    console.log(JSON.stringify(lock.info))
    process.stdin.resume()
  `
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {cwd: repoRoot})
  children.push(child)
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const lines = createInterface({input: child.stdout})
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => [undefined])])) as [string | undefined]
  if (!line) throw new Error(`the lock holder exited early: ${stderr}`)
  return {child, info: JSON.parse(line) as LockInfo}
}

function lockInfo(overrides: Partial<LockInfo>): LockInfo {
  return {
    pid: process.pid,
    startedAt: '2026-01-01T00:00:00.000Z',
    hostname: os.hostname(),
    command: 'datain start',
    token: 'someone-else',
    ...overrides,
  }
}

describe('acquireLock', () => {
  test('writes pid, start time, host and command, mode 0600; release removes it', async () => {
    const lock = await take('datain init')
    expect(lock.takenOver).toBeUndefined()
    const info = JSON.parse(await readFile(lockFile, 'utf8'))
    expect(info).toMatchObject({pid: process.pid, hostname: os.hostname(), command: 'datain init'})
    expect(info).toEqual(lock.info)
    expect((await stat(lockFile)).mode & 0o777).toBe(0o600)
    await lock.release()
    expect(lock.held).toBe(false)
    expect(await readdir(dir)).toEqual([])
    await lock.release()
  })

  test('a second acquire in the same process is E_LOCKED naming our pid', async () => {
    await take()
    const error = await lockedError(acquireLock(dir, {command: 'datain status'}))
    expect(error.message).toContain('Profile "prod" is in use by datain pid ' + process.pid)
    expect(error.message).toContain('command "datain start"')
    expect(error.message).toContain('wait for it')
  })

  test('a lock left by a process that is gone is taken over and reported', async () => {
    const pid = await deadPid()
    await writeFile(lockFile, JSON.stringify(lockInfo({pid, command: 'datain start --profile prod'})))
    const lock = await take()
    expect(lock.takenOver).toEqual({reason: 'process-gone', previous: expect.objectContaining({pid})})
    expect(describeTakeOver(lock.takenOver!)).toBe(
      `took over a lock left by pid ${pid} (datain start --profile prod, started at 2026-01-01T00:00:00.000Z), which is no longer running`,
    )
    expect(JSON.parse(await readFile(lockFile, 'utf8'))).toEqual(lock.info)
    expect((await readdir(dir)).sort()).toEqual(['lock'])
  })

  test.each([
    ['garbage', 'not a lock at all', 'not JSON'],
    ['empty', '', 'empty'],
    ['foreign JSON', '{"pid": "twelve"}', 'not a datain lock'],
  ])('a %s lock file is replaced and reported', async (_what, content, detail) => {
    await writeFile(lockFile, content)
    const lock = await take()
    expect(lock.takenOver).toEqual({reason: 'unreadable', detail})
    expect(JSON.parse(await readFile(lockFile, 'utf8'))).toEqual(lock.info)
  })

  test('a lock from another host with a fresh heartbeat is E_LOCKED: the message says when it frees itself and how to break it', async () => {
    await writeFile(lockFile, JSON.stringify(lockInfo({pid: await deadPid(), hostname: 'other-host.example', bootId: 'another-boot', pidNamespace: 'pid:[1]'})))
    const error = await lockedError(acquireLock(dir))
    expect(error.message).toContain('on host other-host.example')
    expect(error.message).toMatch(/refreshed the lock \d+ s ago/)
    expect(error.message).toContain(`frees itself ${STALE_AFTER_MS / 1000} s after its last refresh`)
    expect(error.message).toContain(`then delete ${lockFile}`)
    expect(error.message).not.toContain('init --force')
  })

  test('a lock from another host whose heartbeat stopped is taken over', async () => {
    await writeFile(lockFile, JSON.stringify(lockInfo({pid: 4242, hostname: 'other-host.example', bootId: 'another-boot', pidNamespace: 'pid:[1]'})))
    const hourAgo = new Date(Date.now() - 3_600_000)
    await utimes(lockFile, hourAgo, hourAgo)
    const lock = await take()
    expect(lock.takenOver).toMatchObject({reason: 'heartbeat-stale', previous: {pid: 4242, hostname: 'other-host.example'}})
    expect(describeTakeOver(lock.takenOver!)).toMatch(/on host other-host\.example, which stopped refreshing it more than 120 s ago/)
  })

  test("a container's lock (same kernel, another pid namespace and hostname, pid 1) is held while it beats, free once it stops", async () => {
    const me = thisProcess()
    await writeFile(lockFile, JSON.stringify(lockInfo({pid: 1, hostname: 'c0ffee0ld', bootId: me.bootId, pidNamespace: 'pid:[4026539999]', processStart: '77'})))
    await lockedError(acquireLock(dir))
    const past = new Date(Date.now() - STALE_AFTER_MS - 5000)
    await utimes(lockFile, past, past)
    expect((await take()).takenOver).toMatchObject({reason: 'heartbeat-stale', previous: {pid: 1}})
  })

  test.each([
    ['with the start time and namespace of this process', () => ({bootId: thisProcess().bootId, pidNamespace: thisProcess().pidNamespace, processStart: thisProcess().processStart})],
    ['written by an older datain (host name only)', () => ({})],
  ])("a lock with this process's pid and another run's token is stale (pid 1 in a container each run): %s", async (_what, fields) => {
    await writeFile(lockFile, JSON.stringify(lockInfo({pid: process.pid, token: 'an-earlier-run', ...fields()})))
    const lock = await take()
    expect(lock.takenOver).toMatchObject({reason: 'own-pid', previous: {pid: process.pid, token: 'an-earlier-run'}})
  })

  test('a live pid with another start time is a reused pid: stale; with its own start time it holds the lock', async () => {
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
    children.push(other as ChildProcessWithoutNullStreams)
    const me = thisProcess()
    const start = processStartOf(other.pid!)
    expect(start).toMatch(/^\d+$/)
    await writeFile(lockFile, JSON.stringify(lockInfo({pid: other.pid!, bootId: me.bootId, pidNamespace: me.pidNamespace, processStart: start})))
    await lockedError(acquireLock(dir))
    await writeFile(lockFile, JSON.stringify(lockInfo({pid: other.pid!, bootId: me.bootId, pidNamespace: me.pidNamespace, processStart: `${Number(start) - 1}`})))
    expect((await take()).takenOver).toMatchObject({reason: 'pid-reused', previous: {pid: other.pid}})
  })

  test('a lock from this host name and pid namespace but an earlier boot is stale: the reboot ended it', async () => {
    await writeFile(lockFile, JSON.stringify(lockInfo({pid: process.ppid, bootId: 'an-earlier-boot', pidNamespace: thisProcess().pidNamespace})))
    expect((await take()).takenOver).toMatchObject({reason: 'rebooted'})
  })

  test('the holder refreshes its heartbeat (the mtime) while it holds the lock', async () => {
    const lock = await acquireLock(dir, {heartbeatMs: 50})
    held.push(lock)
    const hourAgo = new Date(Date.now() - 3_600_000)
    await utimes(lockFile, hourAgo, hourAgo)
    const deadline = Date.now() + 5000
    while ((await stat(lockFile)).mtimeMs < Date.now() - 60_000) {
      expect(Date.now(), 'the heartbeat did not refresh the lock').toBeLessThan(deadline)
      await new Promise((r) => setTimeout(r, 25))
    }
    await lock.release()
    expect(await readdir(dir)).toEqual([])
  })

  test('a live holder on this machine is never taken over, however old its heartbeat', async () => {
    const {child} = await holderProcess()
    const hourAgo = new Date(Date.now() - 3_600_000)
    await utimes(lockFile, hourAgo, hourAgo)
    const error = await lockedError(acquireLock(dir))
    expect(error.message).toContain(`datain pid ${child.pid} (started at`)
    expect(error.message).not.toContain('delete')
  })

  test('release leaves a lock that is no longer ours alone', async () => {
    const lock = await take()
    const foreign = JSON.stringify(lockInfo({pid: await deadPid()}))
    await writeFile(lockFile, foreign)
    await lock.release()
    expect(await readFile(lockFile, 'utf8')).toBe(foreign)
  })

  test('a lock held by another live process is E_LOCKED naming its pid, and free once it exits', async () => {
    const {child, info} = await holderProcess()
    expect(info.pid).toBe(child.pid)
    const error = await lockedError(acquireLock(dir))
    expect(error.message).toContain(`datain pid ${child.pid}`)
    expect(error.message).toContain('command "datain start --profile prod"')

    // Exiting normally releases the lock through the exit handler.
    child.stdin.end()
    await once(child, 'exit')
    expect(await readdir(dir)).toEqual([])
    const lock = await take()
    expect(lock.takenOver).toBeUndefined()
  })

  test('a lock of another process killed with SIGKILL is taken over with its pid', async () => {
    const {child} = await holderProcess()
    await lockedError(acquireLock(dir))
    child.kill('SIGKILL')
    await once(child, 'exit')
    const lock = await take()
    expect(lock.takenOver).toMatchObject({reason: 'process-gone', previous: {pid: child.pid}})
  })

  test('a takeover claim left by a process that died during its takeover does not block for ever', async () => {
    const stale = JSON.stringify(lockInfo({pid: await deadPid()}))
    await writeFile(lockFile, stale)
    const claim = `${lockFile}.${createHash('sha256').update(stale).digest('hex').slice(0, 16)}.claim`
    await writeFile(claim, JSON.stringify(lockInfo({pid: await deadPid(), token: 'dead-claimant'})))
    const lock = await take()
    expect(lock.takenOver).toMatchObject({reason: 'process-gone'})
    expect((await readdir(dir)).sort()).toEqual(['lock'])
  })

  test('concurrent takeovers of one stale lock: exactly one wins', async () => {
    await writeFile(lockFile, JSON.stringify(lockInfo({pid: await deadPid()})))
    const results = await Promise.allSettled(Array.from({length: 8}, () => acquireLock(dir)))
    const won = results.filter((result): result is PromiseFulfilledResult<Lock> => result.status === 'fulfilled')
    held.push(...won.map((result) => result.value))
    expect(won).toHaveLength(1)
    for (const result of results) {
      if (result.status === 'rejected') expect((result.reason as DatainError).code).toBe('E_LOCKED')
    }

    expect(JSON.parse(await readFile(lockFile, 'utf8'))).toEqual(won[0]?.value.info)
    expect((await readdir(dir)).sort()).toEqual(['lock'])
  })
})
