import {execa} from 'execa'
import fc from 'fast-check'
import {mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {registerSecret} from '../../src/lib/redact.js'
import {CopyTally, SLOWEST_TABLES} from '../../src/snapshot/progress.js'
import {PROGRESS_FILE, readProgress, type SnapshotProgress, writeProgress} from '../../src/state/progress.js'
import type {StepRecord} from '../../src/state/schema.js'
import {withSnapshotProgress} from '../../src/status/snapshot-progress.js'
import {STATE_EXIT_CODES, type StatusReport} from '../../src/status/status-report.js'
import {eventStreamUi} from '../../src/ui/event-stream.js'
import {renderStatus} from '../../src/ui/status.js'
import {steps} from './fixture.js'

/** A clock the test moves. */
function clock(start = 1_000_000) {
  let t = start
  return {now: () => t, advance: (ms: number) => void (t += ms)}
}

const progress = (o: Partial<SnapshotProgress> = {}): SnapshotProgress => ({
  tablesDone: 3,
  tablesTotal: 12,
  rowsDone: 45_000,
  rowsTotal: 60_000,
  bytesDone: 12_300_000,
  rowsPerSecond: 11_000,
  etaSeconds: 120,
  inFlight: ['shop.orders', 'shop.items'],
  updatedAt: '2025-03-01T10:05:40.000Z',
  ...o,
})

describe('the copy tally', () => {
  it('the parallel copy: chunks of a table on several workers, a table done with its last chunk, wall-clock seconds', () => {
    const c = clock()
    const tally = new CopyTally(c.now)
    tally.tablesTotal = 2
    tally.rowsTotal = 1000
    tally.begin('shop', 'orders')
    tally.begin('shop', 'orders')
    tally.begin('a.b', 'c')
    c.advance(1000)
    tally.add('shop', 'orders', 300, 3000)
    tally.add('a.b', 'c', 100, 50)
    expect(tally.progress()).toEqual({
      tablesDone: 0,
      tablesTotal: 2,
      rowsDone: 400,
      rowsTotal: 1000,
      bytesDone: 3050,
      rowsPerSecond: 400,
      etaSeconds: 2,
      inFlight: ['shop.orders', 'a.b.c'],
      updatedAt: new Date(c.now()).toISOString(),
    })
    tally.end('shop', 'orders')
    c.advance(1000)
    tally.end('shop', 'orders')
    tally.finished('shop', 'orders')
    // Ends and finishes twice count once.
    tally.end('shop', 'orders')
    tally.finished('shop', 'orders')
    expect(tally.progress()).toMatchObject({tablesDone: 1, inFlight: ['a.b.c']})
    tally.finish()
    expect(tally.progress()).toMatchObject({tablesDone: 2, inFlight: [], etaSeconds: 0})
    // Two seconds for orders (its chunks overlapped), not three; `a`.`b.c` is not `a.b`.`c`.
    expect(tally.summary()).toEqual({
      tables: 2,
      slowest: [
        {table: 'shop.orders', rows: 300, bytes: 3000, seconds: 2},
        {table: 'a.b.c', rows: 100, bytes: 50, seconds: 2},
      ],
      others: {tables: 0, rows: 0, bytes: 0, seconds: 0},
    })
  })

  it('the single stream: what moved between two tables is the first one’s; a table that went by unseen still counts at the end', () => {
    const c = clock()
    const tally = new CopyTally(c.now)
    tally.tablesTotal = 4
    tally.streamAt(undefined, 0, 100)
    tally.streamAt('shop.a', 0, 200)
    c.advance(500)
    tally.streamAt('shop.a', 40, 1200)
    expect(tally.progress()).toMatchObject({tablesDone: 0, rowsDone: 40, bytesDone: 1200, inFlight: ['shop.a']})
    c.advance(500)
    tally.streamAt('shop.b', 100, 2200)
    c.advance(3000)
    tally.streamAt('shop.b', 130, 2500)
    expect(tally.progress()).toMatchObject({tablesDone: 1, rowsDone: 130, inFlight: ['shop.b']})
    tally.finish()
    expect(tally.progress()).toMatchObject({tablesDone: 4, tablesTotal: 4, rowsDone: 130, inFlight: []})
    const summary = tally.summary()
    expect(summary.slowest).toEqual([
      {table: 'shop.b', rows: 30, bytes: 300, seconds: 3},
      {table: 'shop.a', rows: 100, bytes: 2000, seconds: 1},
    ])
    expect(summary.tables).toBe(4)
    expect(summary.others).toEqual({tables: 2, rows: 0, bytes: 200, seconds: 0})
  })

  it('an estimate below what was copied gives no ETA rather than "0 s"', () => {
    const c = clock()
    const tally = new CopyTally(c.now)
    tally.rowsTotal = 10
    tally.begin('d', 't')
    c.advance(1000)
    tally.add('d', 't', 50, 10)
    expect(tally.progress().etaSeconds).toBeNull()
  })

  it('20,000 tables: the summary keeps the 20 slowest and the others in one total', () => {
    const c = clock()
    const tally = new CopyTally(c.now)
    tally.tablesTotal = 20_000
    for (let i = 0; i < 20_000; i++) {
      tally.begin('db', `t${i}`)
      c.advance(i % 997)
      tally.add('db', `t${i}`, i, 2 * i)
      tally.end('db', `t${i}`)
      tally.finished('db', `t${i}`)
    }
    tally.finish()
    const summary = tally.summary()
    expect(summary.slowest).toHaveLength(SLOWEST_TABLES)
    expect(summary.slowest.every((t) => t.seconds === 0.996)).toBe(true)
    const rows = summary.slowest.reduce((n, t) => n + t.rows, 0) + summary.others.rows
    expect(rows).toBe((20_000 * 19_999) / 2)
    expect(summary.others.tables).toBe(20_000 - SLOWEST_TABLES)
    expect(JSON.stringify(summary).length).toBeLessThan(2000)
  })
})

describe('the progress file', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'datain-progress-'))
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })
  const file = () => path.join(dir, PROGRESS_FILE)

  it('is written whole, owner-only, without a temp left, and read back as written', async () => {
    expect(await readProgress(dir)).toEqual({})
    await writeProgress(dir, progress())
    await writeProgress(dir, progress({tablesDone: 4}))
    expect(await readProgress(dir)).toEqual({progress: progress({tablesDone: 4})})
    expect((await stat(file())).mode & 0o777).toBe(0o600)
    expect(await readdir(dir)).toEqual([PROGRESS_FILE])
  })

  it('a damaged, foreign or hostile file is ignored with the reason, never thrown', async () => {
    const cases: Array<[string, () => Promise<void>, RegExp]> = [
      ['not JSON', () => writeFile(file(), '{"tablesDone": 3,'), /is not JSON/],
      ['empty', () => writeFile(file(), ''), /is not JSON/],
      ['another shape', () => writeFile(file(), JSON.stringify({...progress(), rowsDone: -1})), /rowsDone/],
      ['an extra key', () => writeFile(file(), JSON.stringify({...progress(), command: 'rm -rf /'})), /does not hold a snapshot progress/],
      ['a number as text', () => writeFile(file(), JSON.stringify({...progress(), tablesDone: '3'})), /tablesDone/],
      ['a bad time', () => writeFile(file(), JSON.stringify({...progress(), updatedAt: 'yesterday'})), /updatedAt/],
      ['10,000 tables in flight', () => writeFile(file(), JSON.stringify({...progress(), inFlight: Array.from({length: 10_000}, () => 'x')})), /more than a progress file holds|inFlight/],
      ['large', () => writeFile(file(), ' '.repeat(100_000)), /more than a progress file holds/],
      ['a folder', () => mkdir(file()), /not a regular file/],
      ['a symbolic link', () => symlink('/etc/passwd', file()), /symbolic link/],
      ['a FIFO', async () => void (await execa('mkfifo', [file()])), /not a regular file/],
      ['null', () => writeFile(file(), 'null'), /does not hold a snapshot progress/],
    ]
    for (const [what, make, reason] of cases) {
      await rm(file(), {recursive: true, force: true})
      await make()
      const reading = await readProgress(dir)
      expect(reading.progress, what).toBeUndefined()
      expect(reading.ignored, what).toMatch(reason)
    }
  })

  it('any JSON value at all is read without throwing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        await writeFile(file(), JSON.stringify(value))
        const reading = await readProgress(dir)
        expect(reading.progress === undefined || reading.progress.tablesDone >= 0).toBe(true)
      }),
      {numRuns: 200},
    )
  })

  it('status shows it only while the snapshot step is not done, and not when an earlier attempt wrote it', async () => {
    const snapshot = steps(4, {state: 'running'})[4]!
    const record = (state: StepRecord['state'], startedAt: string) => ({state, startedAt}) as StepRecord
    await writeProgress(dir, progress({updatedAt: '2025-03-01T10:05:40.000Z'}))
    expect((await withSnapshotProgress(snapshot, record('running', '2025-03-01T10:00:00.000Z'), dir)).status.progress).toEqual(progress())
    expect((await withSnapshotProgress(snapshot, record('failed', '2025-03-01T10:00:00.000Z'), dir)).status.progress).toEqual(progress())
    expect((await withSnapshotProgress(snapshot, record('running', '2025-03-01T10:06:00.000Z'), dir)).status.progress).toBeNull()
    expect((await withSnapshotProgress(snapshot, record('done', '2025-03-01T10:00:00.000Z'), dir)).status.progress).toBeNull()
    await writeFile(file(), 'garbage')
    const damaged = await withSnapshotProgress(snapshot, record('running', '2025-03-01T10:00:00.000Z'), dir)
    expect(damaged.status.progress).toBeNull()
    expect(damaged.ignored).toMatch(/is not JSON/)
  })
})

describe('the progress as people see it', () => {
  const report = (step: Partial<StatusReport['steps'][number]>): StatusReport => ({
    profile: 'default',
    state: 'setup-in-progress',
    exitCode: STATE_EXIT_CODES['setup-in-progress'],
    summary: 'datain start is copying.',
    next: null,
    maxLag: 300,
    steps: steps(4, {startedAt: '2025-03-01T10:00:00.000Z', ...step}),
    replication: null,
    applyRate: null,
    eta: null,
    checkedAt: '2025-03-01T10:05:41.200Z',
  })
  const now = new Date('2025-03-01T10:05:41.200Z')

  it('one line under the running snapshot step, like the start’s own', () => {
    const text = renderStatus(report({state: 'running', progress: progress()}), {now})
    expect(text).toContain(
      '      Copying: 3 of 12 tables, 45,000 of ~60,000 rows (75%), 12.3 MB, 11,000 rows/s, ETA 2 min; in flight: shop.orders and shop.items (as of 10:05:40, 1.2 s ago)',
    )
  })

  it('a run that died: how far it got, and when', () => {
    const text = renderStatus(report({state: 'interrupted', progress: progress({inFlight: ['shop.orders']})}), {now: new Date('2025-03-01T12:05:40.000Z')})
    expect(text).toMatch(/Copy stopped at: 3 of 12 tables, 45,000 of ~60,000 rows \(75%\), 12\.3 MB; was copying: shop\.orders \(last progress 10:05:40, 2 h ago\)/)
    expect(text).not.toContain('rows/s')
  })

  it('table names from the source cannot drive the terminal', () => {
    const text = renderStatus(report({state: 'running', progress: progress({inFlight: ['shop.\x1b[2Jevil\u202e', 'shop.ok']})}), {now, width: 60})
    expect(text).not.toContain('\x1b[2J')
    expect(text).not.toContain('\u202e')
    expect(text).toContain('shop.\\x1b[2Jevil\\u202e')
  })
})

describe('start --json lines', () => {
  it('one object a line, event and at first, the step on warnings, secrets masked, nothing for people', () => {
    const lines: string[] = []
    const ui = eventStreamUi({write: (text: string) => lines.push(text)})
    registerSecret('s3cr3t-progress-test')
    ui.info('for people')
    ui.status('Copying: …')
    ui.warn!('before any step')
    ui.event!({event: 'step-started', step: 'preflight', title: 'Preflight', resumed: false})
    ui.warn!('the password s3cr3t-progress-test\nshows')
    ui.event!({event: 'step-done', step: 'preflight', title: 'Preflight', result: 'done', seconds: 1, output: null})
    ui.event!({event: 'progress', step: 'snapshot', progress: progress()})
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true)
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(events.map((e) => Object.keys(e).slice(0, 2))).toEqual(events.map(() => ['event', 'at']))
    expect(events.map((e) => [e.event, e.step])).toEqual([
      ['warning', null],
      ['step-started', 'preflight'],
      ['warning', 'preflight'],
      ['step-done', 'preflight'],
      ['progress', 'snapshot'],
    ])
    expect(events[2]!.message).toBe('the password ***\nshows')
    expect(lines.join('')).not.toContain('s3cr3t')
  })
})
