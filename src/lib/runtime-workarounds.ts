import {readFileSync} from 'node:fs'
import v8 from 'node:v8'

/**
 * Every change datain makes to its runtime or to a dependency, in one place, each installed by an
 * explicit call at start-up (installProcessWorkarounds from bin/run.js, installCopyWorkarounds when
 * a parallel copy starts), and each only on the version it was written for: on any other, it is
 * left out and a debug line (DATAIN_DEBUG=1) says why, since the bug may be gone or the patched
 * code changed. test/lib/runtime-workarounds.test.ts reproduces each upstream behaviour on the
 * pinned version: when an upgrade fixes one, its test fails and the workaround can go.
 *
 * Measured on 2026-12-03 with `npm run bench -- --methods datain` (8 × 200,000 rows, 377 MB,
 * 2 threads, two rounds, each workaround turned off alone; CPU seconds of the datain process and
 * its peak RSS, which a busy machine changes far less than its seconds):
 *
 * | turned off        | datain CPU s | peak RSS      |
 * |-------------------|--------------|---------------|
 * | none              | 5.2, 5.8     | 133, 128 MB   |
 * | connector buffers | 16.6, 17.4   | 141, 132 MB   |
 * | semi-space growth | 6.7, 7.4     | 165, 161 MB   |
 * | all               | 12.9, 13.4   | 151, 158 MB   |
 *
 * Gone after that measurement: a full garbage collection forced every 32 MB sent to the replica
 * (`--expose-gc` turned on at run time), written when each LOAD DATA left a 16 MiB buffer behind.
 * With the two above it bought nothing: at 4 × the data (1,474 MB) peak RSS 128 MB with it, 129 MB
 * without, and 1.2 CPU s more with it.
 */

/** What an install did with one workaround. */
export interface WorkaroundReport {
  name: string
  applied: boolean
  /** Why it was left out. */
  why?: string
}

interface Workaround {
  name: string
  /** The package (or `node`) and the version it was written for. */
  dependency: {name: string; version: string}
  apply(): Promise<void> | void
}

/**
 * mariadb 3.5.4 (lib/io/packet-output-stream.js): after the last data of a `LOAD DATA LOCAL` the
 * connector calls `flushBuffer(false)` without a remaining length, and
 * `createBufferWithMinSize(undefined)` then picks its largest size (`undefined + 4 < n` is false for
 * every n): a new 16 MiB buffer for every statement, dropped a moment later. The memory is never
 * touched, but V8 counts it: 6 GB "allocated" for a 377 MB copy made it run a full garbage
 * collection every few statements, three times datain's CPU during the copy (table above). With no
 * length it now means none, which is what the caller says.
 */
const connectorBuffers: Workaround = {
  name: 'mariadb-load-data-buffers',
  dependency: {name: 'mariadb', version: '3.5.4'},
  async apply() {
    const prototype = (await packetOutputStream()).prototype
    const create = prototype.createBufferWithMinSize as (this: unknown, remainingLen: number) => Buffer
    if (typeof create !== 'function') throw new Error('PacketOutputStream.createBufferWithMinSize is gone')
    prototype.createBufferWithMinSize = function (this: unknown, remainingLen?: number): Buffer {
      return create.call(this, remainingLen ?? 0)
    }
  },
}

/**
 * mariadb 3.5.4 (lib/connection.js destroy): for a connection with a statement in flight,
 * `destroy()` runs `KILL <thread>` from a second connection of its own, leaves that KILL's failure
 * unhandled, and gives that connection no 'error' listener. The copy ends its connections with
 * `destroy()` when a worker fails, often because the server is going away: "Unknown thread id"
 * (1094, the server restarted), "Connection was killed" (1927), or that second connection's socket
 * closing would end datain with a stack instead of the copy's own error (seen in CI: a test's
 * servers stopped while such a KILL was under way). Such a KILL's failure is harmless (the thread
 * is gone or going, as wanted) and is ignored; every other unhandled rejection stays fatal, as it
 * is by default. And every connection the connector opens gets a listener that ignores 'error' if
 * it has none: with one, a connection whose socket closes only turns invalid (datain's own
 * connections all have one already: lib/mariadb.ts, the worker pool).
 */
const destroyKills: Workaround = {
  name: 'mariadb-destroy-kill-errors',
  dependency: {name: 'mariadb', version: '3.5.4'},
  async apply() {
    process.on('unhandledRejection', (reason) => {
      if (isConnectorKill(reason)) return
      throw reason
    })
    const prototype = (await connectorModule('./lib/connection.js')).prototype as {connect: (...args: unknown[]) => unknown}
    const connect = prototype.connect
    prototype.connect = function (this: {listenerCount(event: string): number; on(event: string, listener: () => void): void}, ...args: unknown[]) {
      if (this.listenerCount('error') === 0) this.on('error', () => {})
      return connect.apply(this, args)
    }
  },
}

/**
 * V8 11.3 (Node 20) doubles the young generation's semi-spaces, up to 16 MB each, when many
 * objects survive a scavenge, as the copy's rows and buffers do: the copy then held 30 MB more
 * (peak RSS 161–165 MB against 128–133 MB) and spent more CPU, for no speed (table above). A growth
 * factor of 1 keeps them at their starting size. It is read when V8 decides to grow, so it takes
 * effect when set at start-up; it costs well under a millisecond (npm run startup-time).
 */
const semiSpaceGrowth: Workaround = {
  name: 'v8-semi-space-growth',
  dependency: {name: 'node', version: '20'},
  apply() {
    v8.setFlagsFromString('--semi-space-growth-factor=1')
  },
}

/** The workarounds of the whole process: call once, first thing (bin/run.js). */
export function installProcessWorkarounds(debug: (line: string) => void = debugLine): WorkaroundReport[] {
  // Synchronous: nothing of the command may run before it.
  return [semiSpaceGrowth].map((w) => {
    const report = checkWorkaround(w)
    if (report.applied) void w.apply()
    return logged(report, debug)
  })
}

/** The workarounds of the parallel copy's connections: call before the copy opens any. Installs each once. */
export async function installCopyWorkarounds(debug: (line: string) => void = debugLine): Promise<WorkaroundReport[]> {
  installing ??= (async () => {
    const reports: WorkaroundReport[] = []
    for (const w of [connectorBuffers, destroyKills]) {
      let report = checkWorkaround(w)
      if (report.applied) {
        try {
          await w.apply()
        } catch (error) {
          report = {name: w.name, applied: false, why: `it could not be applied: ${(error as Error)?.message ?? String(error)}`}
        }
      }
      reports.push(logged(report, debug))
    }
    return reports
  })()
  return installing
}

let installing: Promise<WorkaroundReport[]> | undefined

/**
 * True for the failure of the connector's own `KILL <thread>` (destroy's): datain itself sends no
 * KILL, so a rejection of that statement left unhandled can only be the connector's.
 */
export function isConnectorKill(reason: unknown): boolean {
  const e = reason as {errno?: unknown; sql?: unknown} | undefined
  return typeof e?.errno === 'number' && typeof e.sql === 'string' && /^KILL \d+\b/.test(e.sql)
}

/** The connector's packet writer (not exported by the package: the very module it uses, by its URL). */
export async function packetOutputStream(): Promise<{prototype: Record<string, unknown>}> {
  return connectorModule('./lib/io/packet-output-stream.js')
}

/** A class of the connector's own (not exported by the package: the very module it uses, by its URL). */
async function connectorModule(file: string): Promise<{prototype: Record<string, unknown>}> {
  const url = new URL(file, import.meta.resolve('mariadb'))
  return ((await import(url.href)) as {default: {prototype: Record<string, unknown>}}).default
}

/** The installed version of a dependency (`node`: this Node's major version). */
export function installedVersion(dependency: string): string | undefined {
  if (dependency === 'node') return process.versions.node.split('.')[0]
  try {
    const file = new URL('./package.json', import.meta.resolve(dependency))
    return (JSON.parse(readFileSync(file, 'utf8')) as {version?: string}).version
  } catch {
    return undefined
  }
}

/** Whether `w` applies here: only on the very version it was written for. */
export function checkWorkaround(w: Pick<Workaround, 'name' | 'dependency'>): WorkaroundReport {
  const installed = installedVersion(w.dependency.name)
  if (installed === w.dependency.version) return {name: w.name, applied: true}
  return {
    name: w.name,
    applied: false,
    why: `written for ${w.dependency.name} ${w.dependency.version}, found ${installed ?? 'none'}: check whether it is still needed (test/lib/runtime-workarounds.test.ts)`,
  }
}

function logged(report: WorkaroundReport, debug: (line: string) => void): WorkaroundReport {
  if (!report.applied) debug(`workaround ${report.name} not applied: ${report.why}`)
  return report
}

function debugLine(line: string): void {
  if (process.env.DATAIN_DEBUG) process.stderr.write(`datain debug: ${line}\n`)
}
