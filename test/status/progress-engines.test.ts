import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import type {TableSummary} from '../../src/snapshot/progress.js'
import {readProgress, type SnapshotProgress} from '../../src/state/progress.js'
import type {SetupEvent} from '../../src/steps/setup-events.js'
import {snapshotStep} from '../../src/steps/snapshot.js'
import {allowLoopback} from '../helpers/preflight.js'
import {testStepContext} from '../snapshot/step-context.js'

/**
 * Both copy engines feed the progress (file and events) and the per-table summary, with the real
 * mariadb-dump for the stream: every table counted, an empty one and a name holding a dot included.
 */

let sandbox: Sandbox
let home: string

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 2000})
  allowLoopback(sandbox)
  home = await mkdtemp(path.join(tmpdir(), 'datain-progress-engines-'))
  await sandbox.source.server.execute([
    'CREATE DATABASE extra',
    'CREATE TABLE extra.empty (id INT PRIMARY KEY)',
    'CREATE TABLE extra.`odd.name` (id INT PRIMARY KEY, v VARCHAR(20))',
    "INSERT INTO extra.`odd.name` VALUES (1, 'a'), (2, 'b'), (3, 'c')",
  ])
})

afterAll(async () => {
  await sandbox?.stop()
  if (home) await rm(home, {recursive: true, force: true})
})

describe.each([
  {engine: 'parallel', parallel: undefined},
  {engine: 'stream', parallel: 1},
] as const)('the $engine copy', ({engine, parallel}) => {
  it('counts every table, sends progress events, leaves the last figures in the file and a per-table summary in its output', async () => {
    await sandbox.replica.server.execute(['DROP DATABASE IF EXISTS shop', 'DROP DATABASE IF EXISTS extra'])
    const t = await testStepContext(sandbox, {home, profile: engine, parallel})
    const events: SetupEvent[] = []
    try {
      const output = await snapshotStep.run({...t.ctx, ui: {...t.ctx.ui, event: (e) => void events.push(e)}})
      expect(output.engine).toBe(engine)
      const progress = events.filter((e) => e.event === 'progress').map((e) => e.progress)
      expect(progress.length).toBeGreaterThanOrEqual(2)
      expect(progress[0]).toMatchObject({tablesDone: 0, tablesTotal: 7, rowsDone: 0})
      const last = progress.at(-1)!
      expect(last).toMatchObject({tablesDone: 7, tablesTotal: 7, rowsDone: output.rows, bytesDone: output.bytes, inFlight: [], etaSeconds: 0})
      // Never backwards.
      for (let i = 1; i < progress.length; i++) {
        expect(progress[i]!.rowsDone).toBeGreaterThanOrEqual(progress[i - 1]!.rowsDone)
        expect(progress[i]!.tablesDone).toBeGreaterThanOrEqual(progress[i - 1]!.tablesDone)
      }
      expect((await readProgress(t.store.dir)).progress).toEqual(last satisfies SnapshotProgress)

      const summary = output.tableSummary as TableSummary
      expect(summary.tables).toBe(7)
      expect(summary.slowest.reduce((n, s) => n + s.rows, 0) + summary.others.rows).toBe(output.rows)
      const byName = Object.fromEntries(summary.slowest.map((s) => [s.table, s]))
      expect(byName['extra.odd.name']?.rows).toBe(3)
      expect(byName['shop.orders']?.rows).toBe(2000)
      // mariadb-dump's bytes before the first table (its header) are nobody's.
      if (engine === 'parallel') expect(summary.slowest.reduce((n, s) => n + s.bytes, 0)).toBe(output.bytes)
    } finally {
      await t.close()
    }
  })
})
