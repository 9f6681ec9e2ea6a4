import {readFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {LOCK_FILE} from '../engine/lock.js'
import {isMissing, LockInfoSchema, stateReadError} from '../engine/state-schema.js'

/** Who holds a profile's lock, read without taking it. */
export interface LockHolder {
  pid: number
  command: string
  startedAt: string
  /** False when the process is gone (killed, crashed); null when it runs on another host and cannot be told. */
  alive: boolean | null
}

/**
 * The holder of the lock in `profileDir`, or undefined when none (or the file is garbage, which the
 * next `datain start` takes over). Status never takes the lock: it runs beside a running `start`.
 */
export async function readLockHolder(profileDir: string): Promise<LockHolder | undefined> {
  const file = path.join(profileDir, LOCK_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if (isMissing(error)) return undefined
    throw stateReadError(error, file)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return undefined
  }
  const parsed = LockInfoSchema.safeParse(data)
  if (!parsed.success) return undefined
  const {pid, command, startedAt, hostname} = parsed.data
  return {pid, command, startedAt, alive: hostname === os.hostname() ? isAlive(pid) : null}
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}
