import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {DatainError} from '../../src/lib/errors.js'
import {sameValue} from '../../src/state/parameter-change.js'
import {allowLoopback} from '../helpers/preflight.js'
import {type TestStepContext, testStepContext} from '../snapshot/step-context.js'

let sandbox: Sandbox
let home: string

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  allowLoopback(sandbox)
  home = await mkdtemp(path.join(tmpdir(), 'datain-parameters-test-'))
})

afterAll(async () => {
  await sandbox?.stop()
  await rm(home, {recursive: true, force: true})
})

const PARAMETER = 'log_bin_trust_function_creators'

async function variable(): Promise<number> {
  const [row] = await sandbox.replica.server.query<Array<{v: number}>>(`SELECT @@global.${PARAMETER} AS v`)
  return Number(row!.v)
}

async function withContext<T>(options: {noArm?: boolean}, work: (t: TestStepContext) => Promise<T>): Promise<T> {
  const t = await testStepContext(sandbox, {home, step: 'link', ...options})
  try {
    return await work(t)
  } finally {
    await t.close()
  }
}

describe("the Azure target's server parameters (ARM, or checks with --no-arm)", () => {
  it('sets a parameter through ARM only when it differs, says what it was, and restores it', async () => {
    await withContext({}, async ({ctx}) => {
      expect(await variable()).toBe(0)
      const change = await ctx.target.parameters.ensure(ctx, PARAMETER, 'ON')
      expect(change).toEqual({name: PARAMETER, previous: 'OFF', value: 'ON', changedByDatain: true})
      expect(await variable()).toBe(1)

      expect(await ctx.target.parameters.ensure(ctx, PARAMETER, 'ON')).toEqual({name: PARAMETER, previous: 'ON', value: 'ON', changedByDatain: false})

      expect(await ctx.target.parameters.restore(ctx, change)).toBe(true)
      expect(await variable()).toBe(0)
      // Nothing left to put back; and a value someone else set since is theirs.
      expect(await ctx.target.parameters.restore(ctx, change)).toBe(false)
    })
  })

  it('names a parameter the server does not offer', async () => {
    await withContext({}, async ({ctx}) => {
      const error = await ctx.target.parameters.ensure(ctx, 'no_such_parameter', 'ON', 'for the test').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(DatainError)
      expect(error).toMatchObject({code: 'E_SERVER_PARAMETER', exitCode: 1})
      expect((error as Error).message).toContain("The replica's server 'datain-replica' offers no server parameter no_such_parameter")
    })
  })

  it('with --no-arm changes nothing: passes when the replica already has the value, else says how to set it by hand', async () => {
    await withContext({noArm: true}, async ({ctx}) => {
      const error = await ctx.target.parameters.ensure(ctx, PARAMETER, 'ON', 'so that functions can be created').catch((e: unknown) => e)
      expect(error).toMatchObject({code: 'E_SERVER_PARAMETER', exitCode: 1})
      const message = (error as Error).message
      expect(message).toContain(`The replica's server parameter ${PARAMETER} is OFF; datain needs it to be ON so that functions can be created`)
      expect(message).toContain('Server parameters')
      expect(message).toContain(`az mariadb server configuration set --resource-group datain-sandbox --server-name datain-replica --name ${PARAMETER} --value ON`)
      expect(await variable()).toBe(0)

      await sandbox.replica.server.execute([`SET GLOBAL ${PARAMETER} = ON`])
      expect(await ctx.target.parameters.ensure(ctx, PARAMETER, 'ON')).toEqual({name: PARAMETER, previous: 'ON', value: 'ON', changedByDatain: false})
      await sandbox.replica.server.execute([`SET GLOBAL ${PARAMETER} = OFF`])
    })
  })

  it('compares switches the way the server writes them', () => {
    expect(sameValue('ON', '1')).toBe(true)
    expect(sameValue('off', 'OFF')).toBe(true)
    expect(sameValue('0', 'ON')).toBe(false)
    expect(sameValue('db1.%', 'DB1.%')).toBe(true)
  })
})
