import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {dispose, type Env, expectNoSecrets, json, newEnv, slaveStatus} from '../stop/helpers.js'

/**
 * Commands a newcomer runs in the wrong order, against the emulated Azure replica: each says what
 * happened and names a next command that works, and changes nothing.
 */

interface ErrorJson {
  error: {code: string; exit: number; message: string; suggestions: string[]}
}

/** Every file of the profile's folder with its content: what a refused command must leave as it was. */
async function profileFiles(e: Env): Promise<Record<string, string>> {
  const dir = path.join(e.home, 'profiles', 'default')
  const names = (await readdir(dir)).sort()
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readFile(path.join(dir, n), 'utf8')] as const)))
}

describe('commands in the wrong order', () => {
  let e: Env
  beforeAll(async () => {
    e = await newEnv()
    expect((await e.run(['init'])).exitCode).toBe(0)
  })
  afterAll(() => dispose(e))

  it('skip before start: nothing to skip, run datain start (exit 2), not a firewall error', async () => {
    const before = await profileFiles(e)
    const refused = await json<ErrorJson>(e, ['skip', '--yes'], 2)
    expect(refused.error.code).toBe('E_NOTHING_TO_SKIP')
    expect(refused.error.message).toMatch(/Nothing to skip: the setup of profile 'default' has not linked the replica to the source yet \('datain start' does\)/)
    expect(refused.error.message).not.toMatch(/firewall/i)
    const plain = await e.run(['skip', '--yes'])
    expect(plain.exitCode).toBe(2)
    expect(plain.stderr).not.toMatch(/\n\s+at /)
    expect(await profileFiles(e)).toEqual(before)
  })

  it('verify after stop says start starts it again; after stop --remove, that the link is gone and how to set up anew', {timeout: 180_000}, async () => {
    const start = await e.run(['start'])
    expect(start.exitCode, start.stderr).toBe(0)
    expect((await e.run(['stop'])).exitCode).toBe(0)

    const stopped = await json<ErrorJson>(e, ['verify'], 3)
    expect(stopped.error.code).toBe('E_VERIFY_BROKEN')
    expect(stopped.error.suggestions).toEqual(["Run 'datain start' to start replication again, then 'datain verify'."])

    expect((await e.run(['stop', '--remove'])).exitCode).toBe(0)
    const removed = await json<ErrorJson>(e, ['verify'], 3)
    expect(removed.error.code).toBe('E_VERIFY_NOT_LINKED')
    expect(removed.error.message).toMatch(/The replication link of profile 'default' was removed at \S+ \(datain stop\): the replica stands alone/)
    // The suggestion is one that works: 'datain start' on this profile is refused (E_LINK_REMOVED).
    expect(removed.error.suggestions.join(' ')).toMatch(/datain init --profile NEW/)
    expect(removed.error.suggestions.join(' ')).not.toMatch(/'datain start' to finish/)
    expect((await json<ErrorJson>(e, ['start'], 2)).error.code).toBe('E_LINK_REMOVED')
    expect(await slaveStatus(e)).toBeUndefined()

    const skip = await json<ErrorJson>(e, ['skip', '--yes'], 2)
    expect(skip.error.code).toBe('E_NOTHING_TO_SKIP')
    expectNoSecrets(e)
  })
})
