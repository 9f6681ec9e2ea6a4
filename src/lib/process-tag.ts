import {readFileSync} from 'node:fs'

/**
 * A name for a running process that a later one cannot take over: its pid and its start time
 * (clock ticks since boot, /proc/<pid>/stat). In a container datain is often pid 1 on every
 * run, so a pid alone would make a dead run's files look like the live one's.
 */
export function processTag(pid: number = process.pid): string {
  return `${pid}-${startTime(pid) ?? 0}`
}

/** True when the process `tag` names still runs: same pid, same start time (where /proc tells it). */
export function tagAlive(tag: string): boolean {
  const match = /^(\d+)-(\d+)$/.exec(tag)
  if (!match) return false
  const pid = Number(match[1])
  if (!pidAlive(pid)) return false
  const started = startTime(pid)
  // Without /proc (macOS) the pid is all there is.
  return started === undefined || match[2] === '0' || String(started) === match[2]
}

export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const value = Number(fields[19])
    return Number.isSafeInteger(value) ? value : undefined
  } catch {
    return undefined
  }
}
