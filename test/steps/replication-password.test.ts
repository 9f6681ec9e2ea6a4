import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {REPLICATION_PASSWORD_ENV} from '../../src/state/passwords.js'
import {checkpoint, dispose, type Env, expectIdentical, expectNoSecrets, newEnv, replicationPassword, slaveStatus} from '../stop/helpers.js'

/**
 * The replication password may change between two runs of one setup (DATAIN_REPLICATION_PASSWORD set
 * in one and not in the next, or the reverse): the replica must be linked with a password the
 * account has, never fail with error 1045 later. Each setup here stops at the link (the replica's
 * general log is on, which the link step refuses), after the replication user was created with one
 * password, and is resumed with the other.
 */

const chosen = 'Chosen-by-the-DBA-42'
let e: Env | undefined
afterEach(async () => {
  await dispose(e)
  e = undefined
})

/** `datain start` stopped by the link step: the replication user exists, with the password of `env`. */
async function createdButNotLinked(env: Record<string, string>): Promise<Env> {
  const created = await newEnv({sampleRows: 50})
  expect((await created.run(['init'])).exitCode).toBe(0)
  await created.sandbox.replica.server.query('SET GLOBAL general_log = ON')
  const first = await created.run(['start'], env)
  expect(first.exitCode, first.stderr).toBe(1)
  expect(first.stderr).toMatch(/E_REPLICA_GENERAL_LOG/)
  expect((await checkpoint(created)).steps['replication-user']?.state).toBe('done')
  await created.sandbox.replica.server.query('SET GLOBAL general_log = OFF')
  return created
}

let day = 0
async function expectReplicating(env: Env): Promise<void> {
  const status = await slaveStatus(env)
  expect([status?.Slave_IO_Running, status?.Slave_SQL_Running, status?.Last_IO_Errno]).toEqual(['Yes', 'Yes', 0])
  await env.sandbox.source.server.query('INSERT INTO shop.daily_sales (day, order_count, revenue) VALUES (?, 5, 55)', [`2035-05-${String(++day).padStart(2, '0')}`])
  await expectIdentical(env)
}

/** The profile's files hold a fingerprint of what the account got, never the password. */
async function expectRecorded(env: Env, password: string, origin: string): Promise<void> {
  const record = (await checkpoint(env)).steps['replication-password']
  expect(record).toMatchObject({state: 'done', output: {origin, fingerprint: {algorithm: 'scrypt-n16384-r8-p1'}}})
  const text = await readFile(path.join(env.home, 'profiles', 'default', 'checkpoint.json'), 'utf8')
  expect(text).not.toContain(password)
}

describe('a replication password that changes between two runs of one setup', () => {
  it('with DATAIN_REPLICATION_PASSWORD, then without: the account gets the generated one before the link', async () => {
    e = await createdButNotLinked({[REPLICATION_PASSWORD_ENV]: chosen})
    const recordedFirst = (await checkpoint(e)).steps['replication-password']

    const second = await e.run(['start'])
    expect(second.exitCode, second.stderr).toBe(0)
    expect(recordedFirst).toMatchObject({output: {origin: REPLICATION_PASSWORD_ENV}})
    expect(second.stderr).toMatch(/was given another password \(from DATAIN_REPLICATION_PASSWORD, at [^)]+\) than the one this run links with \(from the profile \(generated\)\): gave it that password first/)
    await expectReplicating(e)
    const generated = await replicationPassword(e)
    await expectRecorded(e, generated, 'the profile (generated)')

    // Linked: a later run with the variable again starts replication from the link as it is, and changes no password.
    expect((await e.run(['stop'])).exitCode).toBe(0)
    const third = await e.run(['start'], {[REPLICATION_PASSWORD_ENV]: chosen})
    expect(third.exitCode, third.stderr).toBe(0)
    expect(third.stderr).not.toMatch(/gave it that password/)
    await expectReplicating(e)
    expectNoSecrets(e, [chosen, generated])
  })

  it('without, then with DATAIN_REPLICATION_PASSWORD: the account gets the chosen one before the link', async () => {
    e = await createdButNotLinked({})
    const generated = await replicationPassword(e)
    const recordedFirst = (await checkpoint(e)).steps['replication-password']

    const second = await e.run(['start'], {[REPLICATION_PASSWORD_ENV]: chosen})
    expect(second.exitCode, second.stderr).toBe(0)
    expect(recordedFirst).toMatchObject({output: {origin: 'the profile (generated)'}})
    expect(second.stderr).toMatch(/than the one this run links with \(from DATAIN_REPLICATION_PASSWORD\): gave it that password first/)
    await expectReplicating(e)
    await expectRecorded(e, chosen, REPLICATION_PASSWORD_ENV)
    expectNoSecrets(e, [chosen, generated])
  })
})
