import {readFileSync, readlinkSync} from 'node:fs'
import os from 'node:os'
import type {LockInfo} from './schema.js'

/** How often a holder refreshes its lock file's mtime: the heartbeat that holders elsewhere are judged by. */
export const HEARTBEAT_MS = 5000
/**
 * A lock whose heartbeat is older than this is stale wherever its holder ran. Far above the
 * heartbeat, so that a busy event loop or a network file system's attribute cache (up to 60 s on
 * NFS) never makes a live holder look dead.
 */
export const STALE_AFTER_MS = 120_000

/** Where a process runs, as far as a lock needs to know: whether its pid can be probed from here. */
export interface ProcessIdentity {
  hostname: string
  /** `/proc/sys/kernel/random/boot_id`: one per boot of a kernel, shared by the containers on it. */
  bootId?: string
  /** `/proc/self/ns/pid`: pids mean the same process only within one pid namespace. */
  pidNamespace?: string
  /** Field 22 of `/proc/<pid>/stat` (clock ticks after boot): tells a pid's reuse from its holder. */
  processStart?: string
}

let identity: ProcessIdentity | undefined

/** This process's identity; the /proc parts are absent where there is no /proc (macOS). */
export function thisProcess(): ProcessIdentity {
  identity ??= {
    hostname: os.hostname(),
    bootId: readOptional(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
    pidNamespace: readOptional(() => readlinkSync('/proc/self/ns/pid')),
    processStart: processStartOf(process.pid),
  }
  return identity
}

/** Field 22 of /proc/<pid>/stat; undefined when the process does not exist or there is no /proc. */
export function processStartOf(pid: number): string | undefined {
  return readOptional(() => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) is in parentheses and may hold spaces and ')': count after the last one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19]
  })
}

function readOptional(read: () => string | undefined): string | undefined {
  try {
    return read() || undefined
  } catch {
    // No /proc, or the process is gone: the caller decides without it.
    return undefined
  }
}

/** Why a lock is stale. */
export type StaleReason = 'process-gone' | 'pid-reused' | 'own-pid' | 'rebooted' | 'heartbeat-stale'

export type LockVerdict =
  | {held: true; /** The holder's pid was probed here (same machine and pid namespace). */ probed: boolean; heartbeatAgeMs: number}
  | {held: false; reason: StaleReason; heartbeatAgeMs: number}

/**
 * Whether the holder of a lock still holds it. Where its pid means the same process as here (same
 * boot and pid namespace; by hostname for a lock of an older datain), the process decides: gone, or
 * another process under the same pid (its start time differs; our own pid with a token this process
 * does not hold), is stale; alive is held, however old the heartbeat. Elsewhere (another machine,
 * another container), only the heartbeat can tell: older than {@link STALE_AFTER_MS} is stale. A
 * lock of this host name and pid namespace from an earlier boot is stale: a reboot ended its holder.
 */
export function judgeLock(holder: LockInfo, heartbeatMs: number, ownTokens: ReadonlySet<string>, now = Date.now()): LockVerdict {
  const me = thisProcess()
  const heartbeatAgeMs = Math.max(0, now - heartbeatMs)
  const stale = (reason: StaleReason): LockVerdict => ({held: false, reason, heartbeatAgeMs})
  const comparable = holder.bootId !== undefined && me.bootId !== undefined
  const samePidSpace = comparable ? holder.bootId === me.bootId && holder.pidNamespace === me.pidNamespace : holder.hostname === me.hostname
  if (samePidSpace) {
    if (holder.pid === process.pid) return ownTokens.has(holder.token) ? {held: true, probed: true, heartbeatAgeMs} : stale('own-pid')
    if (!isAlive(holder.pid)) return stale('process-gone')
    const start = holder.processStart === undefined ? undefined : processStartOf(holder.pid)
    if (start !== undefined && start !== holder.processStart) return stale('pid-reused')
    return {held: true, probed: true, heartbeatAgeMs}
  }
  if (comparable && holder.hostname === me.hostname && holder.pidNamespace === me.pidNamespace) return stale('rebooted')
  return heartbeatAgeMs > STALE_AFTER_MS ? stale('heartbeat-stale') : {held: true, probed: false, heartbeatAgeMs}
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isAlive(pid: number): boolean {
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
