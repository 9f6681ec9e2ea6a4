import {execa} from 'execa'
import {mkdtemp, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {Connection} from 'mariadb'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import type {SnapshotProgress} from '../../src/state/progress.js'
import type {StatusReport} from '../../src/status/status-report.js'
import {SETUP_STEPS} from '../../src/steps/index.js'
import {datain} from '../helpers/datain.js'
import {sandboxSecrets, targetEnv} from '../helpers/targets.js'

/**
 * `datain start --json` against the sandbox, every line parsed; and `datain status` from another
 * process while the copy runs. The copy's tables on the replica are held by a write lock (no row
 * can be loaded until it is lifted), so that the copy is caught in the middle however fast this
 * machine is.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const KINDS = new Set(['step-started', 'step-done', 'step-failed', 'progress', 'warning'])
const TABLES = ['customers', 'daily_sales', 'order_items', 'orders', 'products']

let sandbox: Sandbox
let home: string
let env: Record<string, string>

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 2000})
  home = await mkdtemp(path.join(tmpdir(), 'datain-start-json-'))
  env = targetEnv(sandbox, home)
})

afterAll(async () => {
  await sandbox?.stop()
  if (home) await rm(home, {recursive: true, force: true})
})

type Line = Record<string, unknown> & {event?: string; at?: string}

async function statusJson(): Promise<StatusReport> {
  const result = await datain(['status', '--json'], env)
  return JSON.parse(result.stdout) as StatusReport
}

describe('datain start --json, watched by datain status', () => {
  it('streams one JSON object per line, the result last; status shows the copy in flight', async () => {
    expect((await datain(['init'], env)).exitCode).toBe(0)
    const holder: Connection = await sandbox.replica.server.connectAsRoot()
    let unlocked = false
    const unlock = async () => {
      if (unlocked) return
      unlocked = true
      await holder.query('UNLOCK TABLES')
    }
    try {
      const start = execa(process.execPath, [path.join(root, 'bin', 'run.js'), 'start', '--json'], {
        env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env},
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        cwd: root,
      })
      // The moment the copy has created its tables on the replica (the checkpoint is written before
      // the first row moves), a writer's lock on all of them: every LOAD waits until it is lifted.
      const deadline = Date.now() + 120_000
      for (let locked = false; !locked; ) {
        if (Date.now() > deadline || start.exitCode !== null) expect.fail(`the copy's tables never appeared on the replica: ${String((await start).stdout)}`)
        locked = await holder.query(`LOCK TABLES ${TABLES.map((t) => `shop.${t} WRITE`).join(', ')}`).then(
          () => true,
          (error: {errno?: number}) => {
            if (error.errno !== 1146) throw error
            return false
          },
        )
      }

      // From another process, while the copy waits.
      let seen: SnapshotProgress | undefined
      while (!seen && Date.now() < deadline && start.exitCode === null) {
        const snapshot = (await statusJson()).steps.find((s) => s.id === 'snapshot')
        if (snapshot?.state === 'running' && (snapshot.progress?.inFlight.length ?? 0) > 0) seen = snapshot.progress!
        else await new Promise((r) => setTimeout(r, 200))
      }
      if (!seen) {
        await unlock()
        const r = await start
        expect.fail(`status --json never showed a table in flight; start said: ${String(r.stdout)}\n${String(r.stderr)}`)
      }
      expect(seen.tablesTotal).toBe(TABLES.length)
      expect(seen.tablesDone).toBeLessThan(seen.tablesTotal)
      expect(seen.rowsTotal).toBeGreaterThan(0)
      expect(seen.inFlight.every((t) => TABLES.some((name) => t === `shop.${name}`))).toBe(true)
      expect(Date.now() - Date.parse(seen.updatedAt)).toBeLessThan(10_000)
      const human = await datain(['status'], env)
      expect(human.stdout).toMatch(/Copying: \d+ of 5 tables, [\d,]+ (of ~[\d,]+ )?rows.*; in flight: .*shop\.\w+.* \(as of /)

      // Refreshed: a later look has a later updatedAt, within the contract's 5 s.
      await new Promise((r) => setTimeout(r, 2500))
      const later = (await statusJson()).steps.find((s) => s.id === 'snapshot')?.progress
      expect(Date.parse(later!.updatedAt)).toBeGreaterThan(Date.parse(seen!.updatedAt))
      await unlock()

      const result = await start
      expect(result.exitCode, result.stderr).toBe(0)
      expect(result.stderr).toBe('')
      // (execa strips the last line's newline.)
      const lines = String(result.stdout).split('\n')
      const parsed = lines.map((line) => JSON.parse(line) as Line)
      const events = parsed.slice(0, -1)
      const final = parsed.at(-1)!

      for (const e of events) {
        expect(KINDS.has(String(e.event)), JSON.stringify(e)).toBe(true)
        expect(new Date(String(e.at)).toISOString()).toBe(e.at)
      }
      // Times never go back.
      const times = events.map((e) => Date.parse(String(e.at)))
      expect(times).toEqual([...times].sort((a, b) => a - b))

      // step-started then step-done for each step, in setup order, nothing in between but progress and warnings.
      const stepEvents = events.filter((e) => e.event === 'step-started' || e.event === 'step-done' || e.event === 'step-failed')
      expect(stepEvents.map((e) => `${e.event} ${String(e.step)}`)).toEqual(SETUP_STEPS.flatMap((s) => [`step-started ${s.id}`, `step-done ${s.id}`]))
      const snapshotDone = stepEvents.find((e) => e.event === 'step-done' && e.step === 'snapshot')!
      expect(snapshotDone).toMatchObject({result: 'done', title: 'Snapshot', output: {engine: 'parallel', tableSummary: {tables: 5}}})

      // Progress only while the snapshot step runs, each the object status shows, the last one complete.
      const started = events.findIndex((e) => e.event === 'step-started' && e.step === 'snapshot')
      const ended = events.indexOf(snapshotDone)
      const progress = events.filter((e) => e.event === 'progress')
      expect(progress.length).toBeGreaterThanOrEqual(2)
      for (const p of progress) {
        const i = events.indexOf(p)
        expect(i > started && i < ended).toBe(true)
        expect(p.step).toBe('snapshot')
        expect(Object.keys(p.progress as object).sort()).toEqual(
          ['bytesDone', 'etaSeconds', 'inFlight', 'rowsDone', 'rowsPerSecond', 'rowsTotal', 'tablesDone', 'tablesTotal', 'updatedAt'].sort(),
        )
      }
      const last = progress.at(-1)!.progress as SnapshotProgress
      expect(last).toMatchObject({tablesDone: 5, tablesTotal: 5, inFlight: [], etaSeconds: 0})
      expect(progress.some((p) => (p.progress as SnapshotProgress).inFlight.length > 0)).toBe(true)

      // The last line: the result object, as before the stream (no `event`).
      expect(final.event).toBeUndefined()
      expect(final).toMatchObject({profile: 'default', dryRun: false})
      expect((final.steps as Array<{id: string; result: string}>).map((s) => [s.id, s.result])).toEqual(SETUP_STEPS.map((s) => [s.id, 'done']))
      const summary = (final.steps as Array<{id: string; output?: {rows: number; tableSummary: {tables: number; slowest: Array<{table: string; rows: number; seconds: number}>; others: {tables: number; rows: number}}}}>).find((s) => s.id === 'snapshot')!.output!
      // The tables the lock held took longest: seconds.
      expect(seen.inFlight).toContain(summary.tableSummary.slowest[0]!.table)
      expect(summary.tableSummary.slowest[0]!.seconds).toBeGreaterThan(2)
      expect(summary.tableSummary.slowest.map((t) => t.table).sort()).toEqual(TABLES.map((t) => `shop.${t}`))
      expect(summary.tableSummary.slowest.reduce((n, t) => n + t.rows, 0) + summary.tableSummary.others.rows).toBe(summary.rows)

      for (const secret of sandboxSecrets(sandbox)) expect(result.stdout).not.toContain(secret)
      // The progress file: the owner's only, and once the step is done status no longer shows it.
      expect((await stat(path.join(home, 'profiles', 'default', 'progress.json'))).mode & 0o777).toBe(0o600)
      expect((await statusJson()).steps.find((s) => s.id === 'snapshot')?.progress).toBeNull()
    } finally {
      await unlock().catch(() => {})
      await holder.end()
    }

    // A second start: every step but the preflight is skipped, said by one step-done each.
    const again = await datain(['start', '--json'], env)
    expect(again.exitCode, again.stderr).toBe(0)
    const second = again.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line)
    expect(second.filter((e) => e.event === 'step-done' && e.result === 'skipped').map((e) => e.step)).toEqual(SETUP_STEPS.filter((s) => !s.alwaysRun).map((s) => s.id))
    expect(second.filter((e) => e.event === 'progress')).toEqual([])
  })

  it('a failure ends the stream with step-failed, then the error object', async () => {
    const refused = await datain(['start', '--json', '--profile', 'nowhere'], env)
    expect(refused.exitCode).toBe(2)
    const lines = refused.stdout.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0]!)).toMatchObject({error: {code: 'E_PROFILE_NOT_FOUND', exit: 2}})

    // A second profile onto the replica the first one filled: its preflight fails.
    await datain(['init', '--profile', 'second'], env)
    const failed = await datain(['start', '--json', '--profile', 'second'], env)
    expect(failed.exitCode, failed.stderr).toBe(1)
    const events = failed.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line)
    const error = events.pop()!
    expect(events.filter((e) => e.event !== 'warning').map((e) => `${e.event} ${String(e.step)}`)).toEqual(['step-started preflight', 'step-failed preflight'])
    expect(events.at(-1)).toMatchObject({code: 'E_PREFLIGHT', message: expect.stringContaining('preflight check')})
    expect(error).toMatchObject({error: {code: 'E_PREFLIGHT', exit: 1}})
  })
})
