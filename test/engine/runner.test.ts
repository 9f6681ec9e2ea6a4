import {mkdtemp, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, test} from 'vitest'
import {hooksFromEnvironment, runSteps, type RunStepsOptions} from '../../src/engine/runner.js'
import {openSetupCheckpoint} from '../../src/engine/setup-checkpoint.js'
import {DatainError} from '../../src/lib/errors.js'
import {setupFingerprint} from '../../src/state/fingerprint.js'
import type {Lock} from '../../src/state/lock.js'
import {openProfile, type ProfileStore} from '../../src/state/profile-store.js'
import type {BinlogOutput, SnapshotOutput} from '../../src/state/step-outputs.js'
import type {Step} from '../../src/steps/step.js'

/** The runner and the checkpoint's opening, with steps that touch no server and a real store in a temp folder. */

let home: string
let store: ProfileStore
let lock: Lock
beforeEach(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'datain-runner-'))
  store = openProfile(home, 'prod')
  await store.writeSettings(settingsInput())
  lock = await store.lock('test')
})
afterEach(async () => {
  await lock.release()
  await rm(home, {recursive: true, force: true})
})

function settingsInput() {
  return {
    createdAt: '2026-01-02T03:04:05.000Z',
    target: 'azure-mariadb' as const,
    source: {host: 'db1', port: 3306, user: 'admin', publicHost: 'db1', ssl: 'on' as const},
    replica: {host: 'rep', port: 3306, user: 'admin', ssl: 'on' as const, tlsVerify: true},
    azure: {useArm: false, manageFirewall: false},
    databases: ['shop'],
    gtid: true,
    replicationUser: 'datain_repl',
    unfilteredSubset: false,
  }
}

const BINLOG: BinlogOutput = {logBin: true, binlogFormat: 'ROW', serverId: 1, replicaServerId: 2}
const SNAPSHOT: SnapshotOutput = {databases: ['shop'], createdDatabases: ['shop'], binlogFile: 'b.000001', binlogPosition: 4, gtidPosition: '0-1-1', bytes: 1, rows: 1, seconds: 1}

/** What the steps saw, in order. */
let seen: string[] = []

const binlog: Step<'binlog'> = {id: 'binlog', title: 'Binlog', describe: 'test', plan: async () => [{on: 'source', kind: 'check', text: 'look'}], run: async () => BINLOG}

function snapshot(fail?: Error): Step<'snapshot'> {
  return {
    id: 'snapshot',
    title: 'Snapshot',
    describe: 'test',
    plan: async () => [],
    async run(ctx) {
      seen.push(`snapshot previous=${JSON.stringify(ctx.previous?.output ?? null)} binlog=${ctx.outputs.binlog?.serverId}`)
      await ctx.progress({createdDatabases: ['shop']})
      if (fail) throw fail
      return SNAPSHOT
    },
  }
}

async function options(steps: Step[], dryRun = false): Promise<RunStepsOptions> {
  const settings = await store.readSettings()
  const checkpoint = await openSetupCheckpoint({profile: 'prod', settings, store}, {command: 'start', dryRun})
  const ui = {info: () => undefined, status: () => undefined}
  return {steps, checkpoint, dryRun, ctx: {profile: 'prod', settings, store, ui, signal: new AbortController().signal} as unknown as RunStepsOptions['ctx']}
}

beforeEach(() => {
  seen = []
})

describe('runSteps', () => {
  test('runs each step, marks it done with its typed output, and hands it to the later steps', async () => {
    const reports = await runSteps(await options([binlog, snapshot()]))
    expect(reports.map((r) => `${r.id}:${r.result}`)).toEqual(['binlog:done', 'snapshot:done'])
    expect(seen).toEqual(['snapshot previous=null binlog=1'])
    const checkpoint = await store.readCheckpoint()
    expect(checkpoint.steps.snapshot).toMatchObject({state: 'done', output: SNAPSHOT})
  })

  test('a failed step keeps what it recorded, is run again from its start with it as `previous`; a done one is skipped', async () => {
    await expect(runSteps(await options([binlog, snapshot(new Error('boom'))]))).rejects.toThrow('boom')
    expect((await store.readCheckpoint()).steps.snapshot).toMatchObject({state: 'failed', output: {createdDatabases: ['shop']}, error: {code: 'E_INTERNAL', message: 'boom'}})

    const reports = await runSteps(await options([binlog, snapshot()]))
    expect(reports.map((r) => `${r.id}:${r.result}`)).toEqual(['binlog:skipped', 'snapshot:done'])
    expect(seen.at(-1)).toBe('snapshot previous={"createdDatabases":["shop"]} binlog=1')
  })

  test('a dry run plans and writes nothing', async () => {
    const file = path.join(store.dir, 'checkpoint.json')
    const reports = await runSteps(await options([binlog], true))
    expect(reports).toEqual([{id: 'binlog', title: 'Binlog', result: 'planned', plan: [{on: 'source', kind: 'check', text: 'look'}]}])
    await expect(readFile(file)).rejects.toMatchObject({code: 'ENOENT'})
  })

  test('DATAIN_TEST_CRASH_AT is read in one place, into the hooks', () => {
    expect(hooksFromEnvironment({DATAIN_TEST_CRASH_AT: 'snapshot:end'})).toEqual({crashAt: 'snapshot:end'})
    expect(hooksFromEnvironment({})).toEqual({})
  })
})

describe('openSetupCheckpoint', () => {
  async function refusal(command: 'start' | 'stop'): Promise<DatainError> {
    const settings = await store.readSettings()
    const purpose = command === 'start' ? {command, dryRun: false} : {command}
    const error = await openSetupCheckpoint({profile: 'prod', settings, store}, purpose).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DatainError)
    return error as DatainError
  }

  test('starts a checkpoint for these servers on the first start, not under --dry-run nor for stop', async () => {
    const settings = await store.readSettings()
    expect((await openSetupCheckpoint({profile: 'prod', settings, store}, {command: 'stop'})).fingerprint).toBeUndefined()
    expect((await openSetupCheckpoint({profile: 'prod', settings, store}, {command: 'start', dryRun: true})).fingerprint).toBeUndefined()
    expect((await openSetupCheckpoint({profile: 'prod', settings, store}, {command: 'start', dryRun: false})).fingerprint).toBe(setupFingerprint(settings))
  })

  test('other servers than the checkpoint describes: E_PROFILE_CHANGED (exit 2) for start and stop, each with its way out', async () => {
    await store.resetCheckpoint('another-fingerprint')
    const start = await refusal('start')
    const stop = await refusal('stop')
    for (const error of [start, stop]) {
      expect(error.code).toBe('E_PROFILE_CHANGED')
      expect(error.exitCode).toBe(2)
      expect(error.message).toContain("The profile 'prod' was changed (servers, databases or mode) after its setup began, so its checkpoint does not describe these servers")
    }
    expect(start.message).toContain("finish with the old setup ('datain stop --remove --cleanup') before starting a new one")
    expect(stop.message).toContain('datain will not stop, remove or clean up anything from it')
  })

  test('a removed link stops start (E_LINK_REMOVED), not stop', async () => {
    const settings = await store.readSettings()
    await store.resetCheckpoint(setupFingerprint(settings))
    const at = new Date().toISOString()
    await store.markStop('removed', {state: 'done', output: {removedAt: at, via: 'remove', linked: true, position: null}})
    expect((await refusal('start')).code).toBe('E_LINK_REMOVED')
    expect((await openSetupCheckpoint({profile: 'prod', settings, store}, {command: 'stop'})).stop.removed?.state).toBe('done')
  })
})
