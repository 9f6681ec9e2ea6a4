import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {DatainError} from '../../src/lib/errors.js'
import {binlogStep} from '../../src/steps/binlog.js'
import {allowLoopback, blockLoopback} from '../helpers/preflight.js'
import {runStep, stepContextFor, type TestStepContext} from '../helpers/step-context.js'

let sandbox: Sandbox
let home: string
let ctx: TestStepContext | undefined

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
})

afterAll(async () => {
  await sandbox?.stop()
})

beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'datain-binlog-'))
  allowLoopback(sandbox)
})

afterEach(async () => {
  await ctx?.close()
  ctx = undefined
  await rm(home, {recursive: true, force: true})
})

const source = (statements: string[]) => sandbox.source.server.execute(statements)

async function failure(promise: Promise<unknown>): Promise<DatainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DatainError)
  return error as DatainError
}

describe('the binlog step', () => {
  it("passes on the sandbox's source and records what it saw", async () => {
    ctx = await stepContextFor(sandbox, {home})
    const output = await runStep(ctx, binlogStep)
    expect(output).toEqual({logBin: true, binlogFormat: 'ROW', serverId: 1, replicaServerId: 2})
    const checkpoint = await ctx.store.readCheckpoint()
    expect(checkpoint.steps.binlog).toMatchObject({state: 'done', output})
    expect(binlogStep.alwaysRun).toBe(true)
  })

  it('stops on binlog_format STATEMENT with the my.cnf line and the restart (exit 1), and passes once it is back (a resume)', async () => {
    await source(["SET GLOBAL binlog_format = 'STATEMENT'"])
    try {
      ctx = await stepContextFor(sandbox, {home, profile: 'fmt'})
      const error = await failure(runStep(ctx, binlogStep))
      expect(error.code).toBe('E_BINLOG')
      expect(error.oclif.exit).toBe(1)
      expect(error.message).toContain('binlog_format is STATEMENT')
      expect(error.message).toContain('[mariadb]\nbinlog_format=ROW\n')
      expect(error.message).toMatch(/restart the source \(sudo systemctl restart mariadb\)/)
      expect(error.message).toContain('datain start --profile fmt')
      expect(error.message).not.toContain('log_bin=')
      expect(error.message).not.toContain('server_id=')
      expect((await ctx.store.readCheckpoint()).steps.binlog).toMatchObject({state: 'failed', error: {code: 'E_BINLOG'}})
      await ctx.close()
    } finally {
      await source(["SET GLOBAL binlog_format = 'ROW'"])
    }

    // `datain start` again: same profile, same checkpoint, the step runs from its start and passes.
    ctx = await stepContextFor(sandbox, {home, profile: 'fmt'})
    const output = await runStep(ctx, binlogStep)
    expect(output).toMatchObject({binlogFormat: 'ROW'})
    expect((await ctx.store.readCheckpoint()).steps.binlog?.state).toBe('done')
  })

  it("stops when the source's server_id is the replica's, suggesting another, with every missing line at once", async () => {
    try {
      await source(['SET GLOBAL server_id = 2'])
      ctx = await stepContextFor(sandbox, {home})
      let error = await failure(runStep(ctx, binlogStep))
      expect(error.code).toBe('E_BINLOG')
      expect(error.message).toContain("server_id 2 is the replica's too")
      expect(error.message).toContain('[mariadb]\nserver_id=1\n')

      // (10.11 clamps SET GLOBAL server_id = 0 to 1, so the 0 case cannot be played here.)
      await source(["SET GLOBAL binlog_format = 'MIXED'"])
      error = await failure(runStep(ctx, binlogStep))
      // Every missing line at once, so that one restart does all.
      expect(error.message).toContain('[mariadb]\nbinlog_format=ROW\nserver_id=1\n')
    } finally {
      await source(['SET GLOBAL server_id = 1', "SET GLOBAL binlog_format = 'ROW'"])
    }
  })

  it('passes without the replica when its firewall refuses this machine, saying the ids were not compared', async () => {
    blockLoopback(sandbox)
    ctx = await stepContextFor(sandbox, {home})
    const output = await runStep(ctx, binlogStep)
    expect(output).toMatchObject({logBin: true, serverId: 1, replicaServerId: null})
    expect(ctx.lines.join('\n')).toMatch(/were not compared/)
  })

  it('plans checks only', async () => {
    ctx = await stepContextFor(sandbox, {home})
    const plan = await binlogStep.plan(ctx)
    expect(plan.every((a) => a.kind === 'check' || a.kind === 'note')).toBe(true)
  })
})

describe('the binlog step against a source without a binary log', () => {
  let bare: Sandbox

  beforeAll(async () => {
    bare = await startSandbox({sampleRows: 0, source: {binlog: false}})
    allowLoopback(bare)
  })

  afterAll(async () => {
    await bare?.stop()
  })

  it('gives the log_bin line with the rest', async () => {
    ctx = await stepContextFor(bare, {home})
    const error = await failure(runStep(ctx, binlogStep))
    expect(error.message).toContain('log_bin is OFF')
    expect(error.message).toMatch(/\[mariadb\]\nlog_bin=mariadb-bin\n/)
    expect(error.oclif.exit).toBe(1)
  })
})
