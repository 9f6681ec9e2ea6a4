import {createHash, randomBytes} from 'node:crypto'
import {readFileSync, unlinkSync} from 'node:fs'
import {link, open, readFile, unlink, utimes, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'
import {DatainError, ExitCode} from '../lib/errors.js'
import {HEARTBEAT_MS, judgeLock, type LockVerdict, STALE_AFTER_MS, type StaleReason, thisProcess} from './lock-liveness.js'
import {LockInfoSchema, isMissing, stateReadError, stateWriteError, type LockInfo} from './schema.js'

export type {LockInfo} from './schema.js'

/** Why an existing lock file was replaced: its holder is gone (see {@link StaleReason}), or the file made no sense. */
export type TakeOver = {reason: StaleReason; previous: LockInfo} | {reason: 'unreadable'; detail: string}

/** Tokens of the locks this process holds: a lock with our pid and another token is a dead run's (pid 1 in containers). */
const heldTokens = new Set<string>()

/** The tokens of the locks this process holds now. */
export function ownLockTokens(): ReadonlySet<string> {
  return heldTokens
}

/** The name of the lock file inside a profile folder. */
export const LOCK_FILE = 'lock'

/** A held profile lock. Released by {@link Lock.release}, or at the latest when the process exits. */
export class Lock {
  #held = true
  readonly #onExit = (): void => this.#releaseSync()
  readonly #heartbeat: NodeJS.Timeout

  /** @internal created by {@link acquireLock} only */
  constructor(
    /** Path of the lock file. */
    readonly path: string,
    /** What this process wrote into it. */
    readonly info: LockInfo,
    /** Set when a stale lock was replaced: tell the user (see {@link describeTakeOver}). */
    readonly takenOver?: TakeOver,
    heartbeatMs = HEARTBEAT_MS,
  ) {
    heldTokens.add(info.token)
    process.on('exit', this.#onExit)
    // unref: the heartbeat never keeps a finished process alive.
    this.#heartbeat = setInterval(() => void this.#beat(), heartbeatMs).unref()
  }

  /** Refreshes the file's mtime, which tells datain elsewhere (another machine, another container) that the holder lives. */
  async #beat(): Promise<void> {
    try {
      if (this.#held && ownerToken(await readFile(this.path, 'utf8')) === this.info.token) {
        const now = new Date()
        await utimes(this.path, now, now)
      }
    } catch {
      // A missed beat only ages the lock; a failing disk is reported by the state writes themselves.
    }
  }

  /** False once released. */
  get held(): boolean {
    return this.#held
  }

  /** Removes the lock file if it is still ours; a no-op when already released. */
  async release(): Promise<void> {
    if (!this.#held) return
    this.#held = false
    this.#stop()
    try {
      if (ownerToken(await readFile(this.path, 'utf8')) === this.info.token) await unlink(this.path)
    } catch (error) {
      if (!isMissing(error)) throw stateWriteError(error, this.path)
    }
  }

  #stop(): void {
    clearInterval(this.#heartbeat)
    heldTokens.delete(this.info.token)
    process.off('exit', this.#onExit)
  }

  #releaseSync(): void {
    if (!this.#held) return
    this.#held = false
    this.#stop()
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
  const {pid, command, startedAt, hostname} = takenOver.previous
  const why: Record<StaleReason, string> = {
    'process-gone': 'which is no longer running',
    'pid-reused': `which is no longer running (pid ${pid} is another process now)`,
    'own-pid': 'an earlier run under the same pid as this one (a container restarted), which is no longer running',
    rebooted: `which ended when ${hostname} rebooted`,
    'heartbeat-stale': `on host ${hostname}, which stopped refreshing it more than ${STALE_AFTER_MS / 1000} s ago`,
  }
  return `took over a lock left by pid ${pid} (${command}, started at ${startedAt}), ${why[takenOver.reason]}`
}

/**
 * Takes the lock of the profile in `profileDir` (which must exist), so that two datain processes
 * never work on one profile. A stale lock (see {@link judgeLock}: its process gone, or elsewhere its
 * heartbeat stopped), or a garbage file, is taken over and reported in {@link Lock.takenOver}. A lock
 * held by a live process (this one included) is E_LOCKED, and so is one elsewhere whose heartbeat
 * is fresh. The holder refreshes the file's mtime every `heartbeatMs` while it holds it.
 */
export async function acquireLock(profileDir: string, options: {command?: string; profile?: string; heartbeatMs?: number} = {}): Promise<Lock> {
  const file = path.join(profileDir, LOCK_FILE)
  const profile = options.profile ?? path.basename(profileDir)
  const me = thisProcess()
  const info: LockInfo = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    hostname: me.hostname,
    command: options.command ?? ['datain', ...process.argv.slice(2, 3)].join(' '),
    token: randomBytes(12).toString('hex'),
    ...(me.bootId === undefined ? {} : {bootId: me.bootId}),
    ...(me.pidNamespace === undefined ? {} : {pidNamespace: me.pidNamespace}),
    ...(me.processStart === undefined ? {} : {processStart: me.processStart}),
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

  // Live from now: a takeover claim (a link to this draft) that another acquire of this process
  // meets must count as held, or that one would break it and both could take the lock.
  heldTokens.add(info.token)
  let acquired = false
  try {
    let takenOver: TakeOver | undefined
    // Each round either takes the lock, fails, or removes a stale lock; a few rounds only matter
    // when several processes race for the same stale lock.
    for (let round = 0; round < 10; round++) {
      try {
        await link(draft, file)
        acquired = true
        return new Lock(file, info, takenOver, options.heartbeatMs)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw stateWriteError(error, file)
      }

      const current = await readLockFile(file)
      if (current === undefined) continue
      let candidate: TakeOver
      if (current.info) {
        const verdict = judgeLock(current.info, current.mtimeMs, heldTokens)
        if (verdict.held) throw lockedError(profile, file, current.info, verdict)
        candidate = {reason: verdict.reason, previous: current.info}
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
    if (!acquired) heldTokens.delete(info.token)
    await unlink(draft).catch(() => {
      // The draft is ours and disposable; a leftover is harmless.
    })
  }
}

function lockedError(profile: string, file: string, holder: LockInfo, verdict: Extract<LockVerdict, {held: true}>): DatainError {
  const here = thisProcess().hostname
  const elsewhere = !verdict.probed
  const who = `datain pid ${holder.pid}${elsewhere ? ` on host ${holder.hostname}` : ''} (started at ${holder.startedAt}, command "${holder.command}")`
  const ago = Math.round(verdict.heartbeatAgeMs / 1000)
  const unsure = elsewhere
    ? `That process runs on another machine or in another container, which datain cannot see from ${here}; it refreshed the lock ${ago} s ago. ` +
      `If it is gone, the lock frees itself ${STALE_AFTER_MS / 1000} s after its last refresh; to break it sooner, make sure no datain runs for this profile there, then delete ${file}.`
    : holder.processStart === undefined
      ? `If no datain runs as pid ${holder.pid} any more (the pid was reused), delete ${file}.`
      : ''
  return new DatainError(
    `Profile "${profile}" is in use by ${who}; wait for it to finish or stop it, then run the command again.${unsure ? ` ${unsure}` : ''}`,
    {
      code: 'E_LOCKED',
      exit: ExitCode.failed,
      suggestions: elsewhere ? [`Wait for datain on ${holder.hostname} to finish`, `rm ${file}  # only once no datain runs for this profile there`] : [`Wait for pid ${holder.pid} to finish, or stop it`],
    },
  )
}

/** `undefined` when there is no lock file; `info` absent when its content is garbage; `mtimeMs` its last heartbeat. */
export async function readLockFile(file: string): Promise<{text: string; info?: LockInfo; detail: string; mtimeMs: number} | undefined> {
  let text: string
  let mtimeMs: number
  try {
    // One handle for both: the heartbeat read is of the very file whose content was read.
    const handle = await open(file, 'r')
    try {
      text = await handle.readFile('utf8')
      mtimeMs = (await handle.stat()).mtimeMs
    } finally {
      await handle.close()
    }
  } catch (error) {
    if (isMissing(error)) return undefined
    // Permission denied or a folder in the way is not "garbage": taking it over could break a real lock.
    throw stateReadError(error, file)
  }

  return {text, mtimeMs, ...parseLock(text)}
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
    const otherAlive = other?.info && judgeLock(other.info, other.mtimeMs, heldTokens).held
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
