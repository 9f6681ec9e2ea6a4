import {copyFile, mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, beforeEach, describe, expect, test} from 'vitest'
import {DatainError} from '../../src/lib/errors.js'
import {ownWork} from '../../src/preflight/own-work.js'
import {openProfile, type ProfileStore} from '../../src/state/profile-store.js'
import {removedRecord} from '../../src/state/stop-records.js'

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url))
/** Written by datain before typed outputs (state version 1): a finished setup, from a run of the bench at 12:37 on 2026-12-03. */
const V1_COMPLETE = path.join(fixtures, 'checkpoint-v1-complete.json')
/**
 * The same setup after `datain stop --cutover` and a failed `--cleanup`, with its records as
 * version 1 kept them among the steps' (shaped as stop/run-stop.ts, source-lock.ts and cleanup.ts wrote them).
 */
const V1_CUTOVER = path.join(fixtures, 'checkpoint-v1-cutover.json')

let home: string
beforeEach(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'datain-checkpoint-'))
})
afterEach(async () => {
  await rm(home, {recursive: true, force: true})
})

/** A profile whose checkpoint.json is `fixture` (or `text`), as an earlier datain left it. */
async function profileWith(fixture: string, text?: string): Promise<{store: ProfileStore; file: string}> {
  const store = openProfile(home, 'prod')
  await mkdir(store.dir, {recursive: true, mode: 0o700})
  const file = path.join(store.dir, 'checkpoint.json')
  if (text === undefined) await copyFile(fixture, file)
  else await writeFile(file, text, {mode: 0o600})
  return {store, file}
}

async function datainError(promise: Promise<unknown>): Promise<DatainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DatainError)
  return error as DatainError
}

describe('a checkpoint written by the previous datain', () => {
  test('loads, every output typed and unchanged, with an empty stop section', async () => {
    const {store} = await profileWith(V1_COMPLETE)
    const original = JSON.parse(await readFile(V1_COMPLETE, 'utf8'))
    const checkpoint = await store.readCheckpoint()
    expect(checkpoint.version).toBe(2)
    expect(checkpoint.stop).toEqual({})
    expect(checkpoint.steps).toEqual(original.steps)
    // Typed: no typeof checks in the readers.
    const snapshot = checkpoint.steps.snapshot
    expect(snapshot?.state === 'done' && snapshot.output?.binlogPosition).toBe(38160970)
    expect(checkpoint.steps.link?.output?.mode).toBe('gtid')
    // An older firewall output has no createdRanges: still a valid one.
    expect(checkpoint.steps.firewall?.output?.createdRanges).toBeUndefined()
    expect(ownWork(checkpoint)).toEqual({replicaDatabases: ['bench'], replicationUserCreated: true, firewallRules: []})
  })

  test("stop's records move to the stop section on read, and are written so on the next change", async () => {
    const {store, file} = await profileWith(V1_CUTOVER)
    const checkpoint = await store.readCheckpoint()
    expect(Object.keys(checkpoint.steps).sort()).toEqual(['binlog', 'firewall', 'link', 'preflight', 'replicate', 'replication-password', 'replication-user', 'snapshot'])
    expect(Object.keys(checkpoint.stop).sort()).toEqual(['cleanup', 'removed', 'source-read-only'])
    expect(removedRecord(checkpoint)?.output).toMatchObject({via: 'cutover', linked: true, position: {gtid: '0-1-20'}, cutover: {eventScheduler: 'ON'}})
    expect(checkpoint.stop['source-read-only']).toMatchObject({state: 'done', output: {outcome: 'kept'}})
    expect(checkpoint.steps.replicate).toMatchObject({state: 'interrupted', error: {code: 'E_LINK_REMOVED'}})

    // Unchanged on disk until datain writes it.
    expect(JSON.parse(await readFile(file, 'utf8')).version).toBe(1)
    const lock = await store.lock('test')
    await store.markStop('cleanup', {state: 'running'})
    await lock.release()
    const written = JSON.parse(await readFile(file, 'utf8'))
    expect(written.version).toBe(2)
    expect(written.steps.removed).toBeUndefined()
    expect(written.stop.removed).toEqual(JSON.parse(await readFile(V1_CUTOVER, 'utf8')).steps.removed)
    expect(written.stop.cleanup).toMatchObject({state: 'running'})
  })
})

describe('outputs parse when the checkpoint is read', () => {
  const base = JSON.parse(
    JSON.stringify({version: 2, fingerprint: 'fp', updatedAt: '2026-12-03T12:00:00.000Z', steps: {}, stop: {}}),
  ) as {steps: Record<string, unknown>}
  const at = '2026-12-03T12:00:00.000Z'

  test("an unfinished step's output is what it recorded so far: partial, with its sub-records kept", async () => {
    const copy = {tables: [{database: 'shop', name: 't', chunks: []}]}
    const running = {state: 'running', startedAt: at, output: {databases: ['shop'], createdDatabases: ['shop'], engine: 'parallel', copy}}
    const {store} = await profileWith('', JSON.stringify({...base, steps: {snapshot: running, 'replication-user': {state: 'failed', startedAt: at, output: {creating: true, user: 'r'}}}}))
    const checkpoint = await store.readCheckpoint()
    expect(checkpoint.steps.snapshot?.output).toEqual(running.output)
    expect(checkpoint.steps['replication-user']?.output?.creating).toBe(true)
  })

  test('a record of an id this datain does not know is kept as it is', async () => {
    const other = {state: 'done', startedAt: at, output: {anything: [1, 2]}}
    const {store} = await profileWith('', JSON.stringify({...base, steps: {'from-the-future': other}}))
    expect((await store.readCheckpoint()).steps).toEqual({'from-the-future': other})
  })

  test.each([
    ['a done snapshot without its coordinates', {snapshot: {state: 'done', startedAt: at, output: {databases: ['shop']}}}, /steps\.snapshot\.output\.createdDatabases: /],
    ['a position that is not a number', {link: {state: 'running', startedAt: at, output: {binlogPosition: '4'}}}, /steps\.link\.output\.binlogPosition: /],
    ['an unknown link mode', {link: {state: 'running', startedAt: at, output: {mode: 'row'}}}, /steps\.link\.output\.mode: /],
    ['parameter changes of another shape', {replicate: {state: 'failed', startedAt: at, output: {parametersChanged: [{name: 1}]}}}, /steps\.replicate\.output\.parametersChanged\.0\.name: /],
  ])('%s is E_STATE_CORRUPT naming the field', async (_, steps, problem) => {
    const {store, file} = await profileWith('', JSON.stringify({...base, steps}))
    const error = await datainError(store.readCheckpoint())
    expect(error.code).toBe('E_STATE_CORRUPT')
    expect(error.exitCode).toBe(1)
    expect(error.message).toContain(file)
    expect(error.message).toMatch(problem)
    expect(error.message).toContain('datain init --force')
  })

  test('a stop record of another shape is E_STATE_CORRUPT too, in an old checkpoint as in a new one', async () => {
    const removed = {state: 'done', startedAt: at, output: {removedAt: at, via: 'sideways', linked: true, position: null}}
    const {store} = await profileWith('', JSON.stringify({...base, version: 1, steps: {removed}, stop: undefined}))
    expect((await datainError(store.readCheckpoint())).message).toMatch(/stop\.removed\.output\.via: /)
  })
})
