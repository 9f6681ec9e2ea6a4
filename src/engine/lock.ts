import {createHash, randomBytes} from 'node:crypto'
import {readFileSync, unlinkSync} from 'node:fs'
import {link, readFile, unlink, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'
import {DatainError, ExitCode} from '../lib/errors.js'
import {LockInfoSchema, isMissing, stateReadError, stateWriteError, type LockInfo} from './state-schema.js'

export type {LockInfo} from './state-schema.js'

/** Why an existing lock file was replaced: its process is gone, or the file made no sense. */
export type TakeOver = {reason: 'process-gone'; previous: LockInfo} | {reason: 'unreadable'; detail: string}

/** The name of the lock file inside a profile folder. */
export const LOCK_FILE = 'lock'

/** A held profile lock. Released by {@link Lock.release}, or at the latest when the process exits. */
export class Lock {
  #held = true
  readonly #onExit = (): void => this.#releaseSync()

  /** @internal created by {@link acquireLock} only */
  constructor(
    /** Path of the lock file. */
    readonly path: string,
    /** What this process wrote into it. */
    readonly info: LockInfo,
    /** Set when a stale lock was replaced: tell the user (see {@link describeTakeOver}). */
    readonly takenOver?: TakeOver,
  ) {
    process.on('exit', this.#onExit)
  }

  /** False once released. */
  get held(): boolean {
    return this.#held
  }

  /** Removes the lock file if it is still ours; a no-op when already released. */
  async release(): Promise<void> {
    if (!this.#held) return
    this.#held = false
    process.off('exit', this.#onExit)
    try {
      if (ownerToken(await readFile(this.path, 'utf8')) === this.info.token) await unlink(this.path)
    } catch (error) {
      if (!isMissing(error)) throw stateWriteError(error, this.path)
    }
  }

  #releaseSync(): void {
    if (!this.#held) return
    this.#held = false
    try {
      if (ownerToken(readFileSync(this.path, 'utf8')) === this.info.token) unlinkSync(this.path)
    } catch {
      // Best effort while the process exits: a lock left behind is taken over by the next run.
    }
  }
}

/** One line for the user about a replaced stale lock, e.g. "took over a lock left by pid 4242, …". */
export function describeTakeOver(takenOver: TakeOver): string {
  if (takenOver.reason === 'unreadable') return `replaced an unreadable lock file (${takenOver.detail})`
  const {pid, command, startedAt} = takenOver.previous
  return `took over a lock left by pid ${pid} (${command}, started at ${startedAt}), which is no longer running`
}

/**
 * Takes the lock of the profile in `profileDir` (which must exist), so that two datain processes
 * never work on one profile. A lock whose process is gone, or whose file is garbage, is taken over
 * and reported in {@link Lock.takenOver}. A lock held by a live process (this one included) is
 * E_LOCKED; on another host, where datain cannot tell, too.
 */
export async function acquireLock(profileDir: string, options: {command?: string; profile?: string} = {}): Promise<Lock> {
  const file = path.join(profileDir, LOCK_FILE)
  const profile = options.profile ?? path.basename(profileDir)
  const info: LockInfo = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    hostname: os.hostname(),
    command: options.command ?? ['datain', ...process.argv.slice(2, 3)].join(' '),
    token: randomBytes(12).toString('hex'),
  }
  // The lock appears by link(2) of a complete file, never as an empty file being written, which a
  // concurrent reader would take for garbage and take over.
  const draft = `${file}.${info.token}.tmp`
  try {
    await writeFile(draft, `${JSON.stringify(info)}\n`, {mode: 0o600, flag: 'wx'})
  } catch (error) {
    // A full disk (ENOSPC, EFBIG) fails the write after 'wx' created the file: leave no empty draft behind.
    await unlink(draft).catch(() => {
      // Never created: nothing to remove.
    })
    throw stateWriteError(error, file)
  }

  try {
    let takenOver: TakeOver | undefined
    // Each round either takes the lock, fails, or removes a stale lock; a few rounds only matter
    // when several processes race for the same stale lock.
    for (let round = 0; round < 10; round++) {
      try {
        await link(draft, file)
        return new Lock(file, info, takenOver)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw stateWriteError(error, file)
      }

      const current = await readLockFile(file)
      if (current === undefined) continue
      let candidate: TakeOver
      if (current.info) {
        const holder = current.info
        if (holder.hostname !== info.hostname || isAlive(holder.pid)) throw lockedError(profile, file, holder, info.hostname)
        candidate = {reason: 'process-gone', previous: holder}
      } else {
        candidate = {reason: 'unreadable', detail: current.detail}
      }

      if (await removeStale(file, current.text, draft)) takenOver = candidate
    }

    throw new DatainError(
      `Profile "${profile}" could not be locked: its lock file ${file} kept changing while datain tried to take it. ` +
        'Another datain is probably starting on this profile; wait for it and run the command again.',
      {code: 'E_LOCKED', exit: ExitCode.failed},
    )
  } finally {
    await unlink(draft).catch(() => {
      // The draft is ours and disposable; a leftover is harmless.
    })
  }
}

function lockedError(profile: string, file: string, holder: LockInfo, ourHost: string): DatainError {
  const elsewhere = holder.hostname !== ourHost
  const who = `datain pid ${holder.pid}${elsewhere ? ` on host ${holder.hostname}` : ''} (started at ${holder.startedAt}, command "${holder.command}")`
  const unsure = elsewhere
    ? `datain cannot tell from ${ourHost} whether that process still runs; if it does not, delete ${file}.`
    : `If no datain runs as pid ${holder.pid} any more (the pid was reused), delete ${file}.`
  return new DatainError(
    `Profile "${profile}" is in use by ${who}; wait for it to finish or stop it, then run the command again. ${unsure}`,
    {code: 'E_LOCKED', exit: ExitCode.failed, suggestions: [`Wait for pid ${holder.pid} to finish, or stop it`]},
  )
}

/** `undefined` when there is no lock file; `info` absent when its content is garbage. */
async function readLockFile(file: string): Promise<{text: string; info?: LockInfo; detail: string} | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if (isMissing(error)) return undefined
    // Permission denied or a folder in the way is not "garbage": taking it over could break a real lock.
    throw stateReadError(error, file)
  }

  return {text, ...parseLock(text)}
}

function parseLock(text: string): {info?: LockInfo; detail: string} {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return {detail: text.trim() === '' ? 'empty' : 'not JSON'}
  }

  const result = LockInfoSchema.safeParse(data)
  return result.success ? {info: result.data, detail: ''} : {detail: 'not a datain lock'}
}

function ownerToken(text: string): string | undefined {
  return parseLock(text).info?.token
}

/**
 * Removes `file`, read with content `seen` and judged stale. Only the process that creates the claim
 * `<file>.<hash of seen>.claim` (exclusively, by link) may do so, and it checks that `file` still
 * holds `seen` first: nobody can replace a file that exists, and only a claim holder removes one, so
 * the check stays true until the unlink. Returns false when another process is on it, or when the
 * file changed: the caller looks again. A claim left by a process that died holding it is stale in
 * turn and removed the same way.
 */
async function removeStale(file: string, seen: string, draft: string, depth = 0): Promise<boolean> {
  const claim = `${file}.${createHash('sha256').update(seen).digest('hex').slice(0, 16)}.claim`
  try {
    await link(draft, claim)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw stateWriteError(error, file)
    const other = await readLockFile(claim)
    const otherAlive = other?.info && (other.info.hostname !== os.hostname() || isAlive(other.info.pid))
    if (other && !otherAlive && depth < 2) await removeStale(claim, other.text, draft, depth + 1)
    // Give the process that holds the claim time to put its own lock in place.
    else await delay(20)
    return false
  }

  try {
    if ((await readLockFile(file))?.text !== seen) return false
    await unlink(file)
    return true
  } catch (error) {
    if (isMissing(error)) return false
    throw stateWriteError(error, file)
  } finally {
    await unlink(claim).catch((error: unknown) => {
      if (!isMissing(error)) throw stateWriteError(error, claim)
    })
  }
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ESRCH') return false
    if (code === 'EPERM') return true
    throw error
  }
}
