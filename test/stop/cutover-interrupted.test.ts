import {execa} from 'execa'
import type {Connection} from 'mariadb'
import {readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import {TARGETS} from '../helpers/targets.js'
import {checkpoint, dispose, type Env as TargetEnv, json, replicatingTargetEnv, slaveStatus, waitUntil} from './helpers.js'

type Env = TargetEnv<AnySandbox>

/**
 * A cutover that dies after it decided to make the source read-only: the record written before the
 * SET lets the next `datain stop` settle what the dead run left, whatever it was doing. For every target.
 */

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/run.js')

interface StopJson {
  sourceReadOnly: {action: string; lockedAt: string} | null
  link: string
  cutover: null | {source: {wasReadOnly: boolean; locked: boolean; readOnly: boolean}}
}

async function readOnly(e: Env): Promise<number> {
  const [row] = await e.sandbox.source.server.query<Array<{v: number}>>('SELECT @@global.read_only AS v')
  return Number(row!.v)
}

/**
 * `datain stop --cutover` held inside its `SET GLOBAL read_only = ON` by a table lock on the
 * source (the SET waits for the global read lock): the moment after datain recorded the switch.
 */
function startCutover(e: Env) {
  return execa(process.execPath, [bin, 'stop', '--cutover'], {env: {PATH: process.env.PATH, HOME: process.env.HOME, ...e.env}, extendEnv: false, reject: false, all: true, stdin: 'ignore'})
}

async function cutoverHeldAtTheSwitch(e: Env): Promise<{child: ReturnType<typeof startCutover>; blocker: Connection}> {
  const blocker = await e.sandbox.source.server.connectAsRoot()
  await blocker.query('LOCK TABLES shop.daily_sales WRITE')
  const child = startCutover(e)
  await waitUntil(async () => {
    const [row] = await e.sandbox.source.server.query<Array<{n: number}>>(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SET GLOBAL read_only = ON%'",
    )
    return Number(row!.n) > 0 || child.exitCode !== null
  })
  expect(child.exitCode, 'the cutover ended before it reached the switch').toBeNull()
  expect((await checkpoint(e)).stop['source-read-only']).toMatchObject({state: 'running', output: {previous: 'OFF', phase: 'locking'}})
  return {child, blocker}
}

describe.each(TARGETS)('datain stop --cutover interrupted after it recorded the source read-only switch, --target %s', (target) => {
  let e: Env
  beforeAll(async () => {
    e = await replicatingTargetEnv(target)
  })
  afterAll(() => dispose(e))

  it('SIGHUP aborts it cleanly: a second signal does not cut that short; the source is writable, the link in place', async () => {
    const {child, blocker} = await cutoverHeldAtTheSwitch(e)
    let output = ''
    child.all.on('data', (chunk: Buffer) => (output += chunk.toString()))
    // One at a time: the kernel merges a signal sent while the same one is still pending.
    child.kill('SIGHUP')
    await waitUntil(async () => /SIGHUP: stopping/.test(output) || child.exitCode !== null)
    child.kill('SIGHUP')
    await waitUntil(async () => /already stopping/.test(output) || child.exitCode !== null)
    await blocker.query('UNLOCK TABLES')
    await blocker.end()
    const result = await child
    // 128 + SIGHUP's 1, as a shell reports a process the signal ended.
    expect(result.exitCode, result.all).toBe(129)
    // oclif wraps the error's paragraph with ' ›   ' at each line.
    const text = result.all.replace(/\s*\n ›\s+/g, ' ')
    expect(text).toMatch(/interrupted during the cutover, before the link was removed\. The link is in place\. datain put things back: the source is writable again/)
    expect(await readOnly(e)).toBe(0)
    expect((await checkpoint(e)).stop['source-read-only']).toMatchObject({state: 'done', output: {outcome: 'restored'}})
    const status = await slaveStatus(e)
    expect([status?.Slave_IO_Running, status?.Slave_SQL_Running]).toEqual(['Yes', 'Yes'])
  })

  it('kill -9: the source turns read-only with no datain alive; the next datain stop puts it back, as recorded', async () => {
    const {child, blocker} = await cutoverHeldAtTheSwitch(e)
    child.kill('SIGKILL')
    await child
    await blocker.query('UNLOCK TABLES')
    await blocker.end()
    // The server runs the statement datain sent to its end without it: read-only, and nobody left to undo it.
    await waitUntil(async () => (await readOnly(e)) === 1)

    const stop = await json<StopJson>(e, ['stop'])
    expect(stop.sourceReadOnly).toMatchObject({action: 'restored'})
    expect(stop.link).toBe('stopped')
    expect(await readOnly(e)).toBe(0)
    expect((await checkpoint(e)).stop['source-read-only']).toMatchObject({state: 'done', output: {outcome: 'restored'}})
    expect((await e.run(['start'])).exitCode).toBe(0)
  })

  it("kill -9, then the cutover again: datain's own read_only is not taken for the DBA's", async () => {
    const {child, blocker} = await cutoverHeldAtTheSwitch(e)
    child.kill('SIGKILL')
    await child
    await blocker.query('UNLOCK TABLES')
    await blocker.end()
    await waitUntil(async () => (await readOnly(e)) === 1)

    const cut = await json<StopJson>(e, ['stop', '--cutover'])
    expect(cut.sourceReadOnly).toMatchObject({action: 'restored'})
    expect(cut.link).toBe('removed')
    // Had the rerun read read_only = ON as the DBA's, it would report wasReadOnly and leave no undo.
    expect(cut.cutover?.source).toMatchObject({wasReadOnly: false, locked: true, readOnly: true})
    expect(await readOnly(e)).toBe(1)
    expect((await checkpoint(e)).stop['source-read-only']).toMatchObject({state: 'done', output: {outcome: 'kept'}})
  })

  it('killed after it removed the link but before it recorded that: the next datain stop keeps the source read-only', async () => {
    // The checkpoint such a run leaves: the switch recorded as being in its last phase, no removal recorded.
    const file = path.join(e.home, 'profiles', 'default', 'checkpoint.json')
    const state = JSON.parse(await readFile(file, 'utf8')) as {stop: Record<string, {state: string; output?: Record<string, unknown>; finishedAt?: string}>}
    delete state.stop.removed
    const lock = state.stop['source-read-only']!
    state.stop['source-read-only'] = {...lock, state: 'running', output: {previous: 'OFF', phase: 'removing', at: lock.output?.at}}
    delete state.stop['source-read-only'].finishedAt
    await writeFile(file, JSON.stringify(state))
    expect(await readOnly(e)).toBe(1)

    const stop = await json<StopJson>(e, ['stop', '--remove'])
    expect(stop.sourceReadOnly).toMatchObject({action: 'kept'})
    expect(stop.link).toBe('removed')
    expect(await readOnly(e)).toBe(1)
    expect((await checkpoint(e)).stop['source-read-only']).toMatchObject({state: 'done', output: {outcome: 'kept'}})
    await e.sandbox.source.server.query('SET GLOBAL read_only = OFF')
  })
})

describe.each(TARGETS)('a killed cutover while the source is down, --target %s', (target) => {
  let e: Env
  beforeAll(async () => {
    e = await replicatingTargetEnv(target)
  })
  afterAll(() => dispose(e))

  it('datain stop still stops replication and keeps the record; the next one, with the source back, settles it', async () => {
    const {child, blocker} = await cutoverHeldAtTheSwitch(e)
    child.kill('SIGKILL')
    await child
    await blocker.query('UNLOCK TABLES')
    await blocker.end()
    await waitUntil(async () => (await readOnly(e)) === 1)
    await e.sandbox.source.server.stop()

    const stop = await json<StopJson>(e, ['stop'])
    expect(stop.sourceReadOnly).toMatchObject({action: 'pending'})
    expect(stop.link).toBe('stopped')
    expect((await checkpoint(e)).stop['source-read-only']).toMatchObject({state: 'running'})

    // read_only does not outlive a restart; what matters is that the record is settled, not left for ever.
    await e.sandbox.source.server.restart()
    const again = await json<StopJson>(e, ['stop'])
    expect(again.sourceReadOnly).toMatchObject({action: 'restored'})
    expect(await readOnly(e)).toBe(0)
    expect((await checkpoint(e)).stop['source-read-only']).toMatchObject({state: 'done', output: {outcome: 'restored'}})
  })
})
