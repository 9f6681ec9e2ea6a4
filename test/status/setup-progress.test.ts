import {execa} from 'execa'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {Checkpoint} from '../../src/state/schema.js'
import {readLockHolder} from '../../src/status/lock-holder.js'
import {setupProgress, STOPPED_MID_STEP, stepStatuses} from '../../src/status/setup-progress.js'
import {SETUP_STEPS} from '../../src/steps/index.js'

const now = new Date('2025-03-01T10:10:00.000Z')

function checkpoint(steps: Checkpoint['steps']): Checkpoint {
  return {version: 2, fingerprint: 'f', updatedAt: now.toISOString(), steps, stop: {}}
}

const done = <O>(startedAt: string, finishedAt: string, output: O) => ({state: 'done' as const, startedAt, finishedAt, output})

const finished = checkpoint({
  preflight: done('2025-03-01T10:00:00.000Z', '2025-03-01T10:00:02.500Z', {passed: 21, warnings: ['definers'], createdRules: []}),
  binlog: done('2025-03-01T10:00:03.000Z', '2025-03-01T10:00:03.100Z', {logBin: true, binlogFormat: 'ROW', serverId: 1, replicaServerId: 2}),
  'replication-user': done('2025-03-01T10:00:04.000Z', '2025-03-01T10:00:04.200Z', {user: 'datain_repl', host: '%', created: true, requireSsl: true, action: 'created' as const}),
  firewall: done('2025-03-01T10:00:05.000Z', '2025-03-01T10:00:09.000Z', {
    sourceIp: '203.0.113.5',
    clientIp: '198.51.100.7',
    createdRules: ['datain-default-source', 'datain-default-client'],
    reusedRules: [],
    managed: true,
  }),
  snapshot: done('2025-03-01T10:00:10.000Z', '2025-03-01T10:02:10.000Z', {
    databases: ['shop'],
    createdDatabases: ['shop'],
    binlogFile: 'mariadb-bin.000004',
    binlogPosition: 1234,
    gtidPosition: '0-1-99',
    bytes: 2_500_000,
    rows: 12345,
    seconds: 119.5,
    parametersChanged: [],
  }),
  link: done('2025-03-01T10:02:11.000Z', '2025-03-01T10:02:11.300Z', {
    procedureSchema: 'mysql',
    mode: 'gtid' as const,
    gtidPosition: '0-1-99',
    sourceHost: '203.0.113.5',
    sourcePort: 3306,
    sourceUser: 'datain_repl',
    tls: true,
    parametersChanged: [],
    action: 'linked' as const,
  }),
  replicate: done('2025-03-01T10:02:12.000Z', '2025-03-01T10:02:20.000Z', {mode: 'gtid' as const, startedAt: '2025-03-01T10:02:12.000Z', caughtUpAt: '2025-03-01T10:02:20.000Z', alreadyRunning: false}),
})

describe('the steps as status shows them', () => {
  it('in setup order, with when, how long and the key outputs', () => {
    const steps = stepStatuses(SETUP_STEPS, finished, undefined, now)
    expect(steps.map((s) => [s.id, s.state])).toEqual(SETUP_STEPS.map((s) => [s.id, 'done']))
    const byId = Object.fromEntries(steps.map((s) => [s.id, s]))
    expect(byId.preflight).toMatchObject({seconds: 2.5, summary: '21 checks passed; warnings: definers', error: null})
    expect(byId.binlog?.summary).toBe('binlog_format ROW, server_id 1 (replica 2)')
    expect(byId['replication-user']?.summary).toBe("datain_repl@'%', REQUIRE SSL, created")
    expect(byId.firewall?.summary).toBe('rules created: datain-default-source, datain-default-client')
    expect(byId.snapshot?.summary).toBe('shop: 12,345 rows, 2.5 MB in 2 min; source at GTID 0-1-99, mariadb-bin.000004:1234')
    expect(byId.snapshot?.details).toEqual({
      databases: ['shop'],
      rows: 12345,
      bytes: 2_500_000,
      seconds: 119.5,
      gtidPosition: '0-1-99',
      binlogFile: 'mariadb-bin.000004',
      binlogPosition: 1234,
      createdDatabases: ['shop'],
    })
    expect(byId.link?.summary).toBe('GTID mode from 0-1-99, over TLS (linked)')
    expect(byId.link?.details).toMatchObject({mode: 'gtid', gtidPosition: '0-1-99', tls: true})
    expect(byId.link?.details).not.toHaveProperty('parametersChanged')
    expect(byId.replicate?.summary).toMatch(/^caught up at /)
    expect(setupProgress(steps, undefined)).toEqual({kind: 'complete'})
  })

  it('not started: every step, and the setup', () => {
    const steps = stepStatuses(SETUP_STEPS, checkpoint({}), undefined, now)
    expect(steps.every((s) => s.state === 'not-started' && s.startedAt === null && s.seconds === null)).toBe(true)
    expect(setupProgress(steps, undefined)).toEqual({kind: 'not-started'})
  })

  const midCopy = checkpoint({
    ...Object.fromEntries(Object.entries(finished.steps).slice(0, 4)),
    snapshot: {state: 'running', startedAt: '2025-03-01T10:09:00.000Z', output: {createdDatabases: ['shop']}},
  })

  it('running while a live datain start holds the lock, for as long as it has run', () => {
    const holder = {pid: process.pid, command: 'start', startedAt: '2025-03-01T10:08:00.000Z', alive: true}
    const steps = stepStatuses(SETUP_STEPS, midCopy, holder, now)
    expect(steps[4]).toMatchObject({state: 'running', seconds: 60, summary: 'databases created so far: shop', error: null})
    expect(setupProgress(steps, holder)).toMatchObject({kind: 'in-progress', step: {id: 'snapshot'}})
  })

  it('interrupted when the datain that ran it is gone (killed mid-step)', () => {
    const holder = {pid: 999_999, command: 'start', startedAt: '2025-03-01T10:08:00.000Z', alive: false}
    for (const who of [holder, undefined]) {
      const steps = stepStatuses(SETUP_STEPS, midCopy, who, now)
      expect(steps[4]).toMatchObject({state: 'interrupted', seconds: null})
      expect(steps[4]?.error?.code).toBe(STOPPED_MID_STEP)
      expect(setupProgress(steps, who)).toMatchObject({kind: 'incomplete', step: {id: 'snapshot'}})
    }
  })

  it('failed with its error code and message', () => {
    const failed = checkpoint({
      preflight: finished.steps.preflight!,
      binlog: {state: 'failed', startedAt: '2025-03-01T10:00:03.000Z', finishedAt: '2025-03-01T10:00:03.400Z', error: {code: 'E_BINLOG', message: 'binlog_format is STATEMENT'}},
    })
    const steps = stepStatuses(SETUP_STEPS, failed, undefined, now)
    expect(steps[1]).toMatchObject({state: 'failed', seconds: 0.4, error: {code: 'E_BINLOG', message: 'binlog_format is STATEMENT'}, summary: null})
    expect(setupProgress(steps, undefined)).toMatchObject({kind: 'incomplete', step: {id: 'binlog'}})
  })

  it('complete once the last step is done, even when a later start’s preflight re-check failed', () => {
    const rechecked = checkpoint({...finished.steps, preflight: {state: 'failed', startedAt: now.toISOString(), finishedAt: now.toISOString(), error: {code: 'E_PREFLIGHT', message: 'x'}}})
    expect(setupProgress(stepStatuses(SETUP_STEPS, rechecked, undefined, now), undefined)).toEqual({kind: 'complete'})
  })
})

describe('the lock holder, read without taking the lock', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'datain-status-lock-'))
  })
  afterEach(() => rm(dir, {recursive: true, force: true}))

  const lock = (pid: number, hostname = os.hostname()) =>
    writeFile(path.join(dir, 'lock'), JSON.stringify({pid, startedAt: now.toISOString(), hostname, command: 'start', token: 'abc'}))

  it('is none without a lock file, or with garbage in it', async () => {
    expect(await readLockHolder(dir)).toBeUndefined()
    await writeFile(path.join(dir, 'lock'), '{not json')
    expect(await readLockHolder(dir)).toBeUndefined()
  })

  it('is alive while its process runs, gone once it exited, unknown on another host', async () => {
    // Our parent (vitest) is a live process other than this one, which holds no lock.
    await lock(process.ppid)
    expect(await readLockHolder(dir)).toMatchObject({pid: process.ppid, command: 'start', alive: true})
    const exited = await execa(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
    await lock(Number(exited.stdout))
    expect(await readLockHolder(dir)).toMatchObject({alive: false})
    await lock(process.pid, 'another-host')
    expect(await readLockHolder(dir)).toMatchObject({alive: null})
  })
})
