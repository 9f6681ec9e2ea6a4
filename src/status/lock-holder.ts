import path from 'node:path'
import {LOCK_FILE, ownLockTokens, readLockFile} from '../state/lock.js'
import {judgeLock} from '../state/lock-liveness.js'

/** Who holds a profile's lock, read without taking it. */
export interface LockHolder {
  pid: number
  command: string
  startedAt: string
  /**
   * False when the holder is gone (killed, crashed, its machine rebooted, or elsewhere its heartbeat
   * stopped); null when it runs on another machine or in another container and its heartbeat is
   * fresh, which is all datain can see from here.
   */
  alive: boolean | null
}

/**
 * The holder of the lock in `profileDir`, or undefined when none (or the file is garbage, which the
 * next `datain start` takes over). Status never takes the lock: it runs beside a running `start`.
 * Judged as `acquireLock` judges it, so that status never calls a lock live that start would take over.
 */
export async function readLockHolder(profileDir: string): Promise<LockHolder | undefined> {
  const current = await readLockFile(path.join(profileDir, LOCK_FILE))
  if (!current?.info) return undefined
  const {pid, command, startedAt} = current.info
  const verdict = judgeLock(current.info, current.mtimeMs, ownLockTokens())
  return {pid, command, startedAt, alive: verdict.held ? (verdict.probed ? true : null) : false}
}
