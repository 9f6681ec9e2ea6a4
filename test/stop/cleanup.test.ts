import {afterEach, describe, expect, it} from 'vitest'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import {TARGETS} from '../helpers/targets.js'
import {checkpoint, dispose, type Env as TargetEnv, json, newTargetEnv, replicatingEnv} from './helpers.js'

type Env = TargetEnv<AnySandbox>

/**
 * `datain stop --cleanup` removes only what datain made, as datain made it: a firewall rule of
 * datain's name that someone gave another range, and an account someone created after datain's
 * CREATE USER failed, are left and reported.
 */

interface CleanupJson {
  cleanup: {
    replicationUser: {user: string; action: string}
    firewallRules: {deleted: string[]; absent: string[]; left: string[]; changed: Array<{name: string; startIpAddress: string; endIpAddress: string}>}
  }
}

let e: Env | undefined
afterEach(async () => {
  await dispose(e)
  e = undefined
})

async function accounts(env: Env, user: string): Promise<number> {
  return (await env.sandbox.source.server.query<unknown[]>('SELECT User FROM mysql.user WHERE User = ?', [user])).length
}

// Firewall rules exist only on Azure: a plain replica has none (test/commands/stop.test.ts checks its cleanup reports none).
describe('datain stop --cleanup, Azure only: firewall rules', () => {
  it("leaves a rule of datain's name whose range someone changed, and reports it; deletes the rules still as datain made them", async () => {
    const azure = await replicatingEnv({sampleRows: 20})
    e = azure
    const rules = azure.sandbox.azure.state.firewallRules
    const ours = [...rules.keys()].filter((name) => name.startsWith('datain-default-'))
    // 127.0.0.1 is both the source's address and datain's: one rule, datain's client rule, covers both.
    expect(ours).toEqual(['datain-default-client'])
    // The ranges are recorded with the rules, before each PUT.
    expect((await checkpoint(e)).steps.preflight?.output?.createdRanges).toEqual([{name: 'datain-default-client', startIpAddress: '127.0.0.1', endIpAddress: '127.0.0.1'}])
    expect((await json(e, ['stop', '--remove'])).link).toBe('removed')

    // Someone widened datain's rule to their whole network.
    rules.set('datain-default-client', {name: 'datain-default-client', startIpAddress: '127.0.0.0', endIpAddress: '127.0.0.255'})
    const run = await e.run(['stop', '--cleanup'])
    expect(run.exitCode, run.stderr).toBe(0)
    expect(run.stderr).toMatch(/Left the firewall rule datain-default-client \(127\.0\.0\.0-127\.0\.0\.255\): it has the name datain gave its rule, but not a range datain gave it/)
    expect(run.stdout).toMatch(/left, changed since datain made them \(another range\) datain-default-client \(127\.0\.0\.0-127\.0\.0\.255\)/)
    expect([...rules.keys()]).toEqual(['datain-default-client'])

    const again = await json<CleanupJson>(e, ['stop', '--cleanup'])
    expect(again.cleanup.firewallRules).toMatchObject({deleted: [], changed: [{name: 'datain-default-client', startIpAddress: '127.0.0.0', endIpAddress: '127.0.0.255'}]})
    expect([...rules.keys()]).toEqual(['datain-default-client'])

    // As datain made it, the rule goes.
    rules.set('datain-default-client', {name: 'datain-default-client', startIpAddress: '127.0.0.1', endIpAddress: '127.0.0.1'})
    expect((await json<CleanupJson>(e, ['stop', '--cleanup'])).cleanup.firewallRules).toMatchObject({deleted: ['datain-default-client'], changed: []})
    expect([...rules.keys()]).toEqual([])
  })
})

describe.each(TARGETS)('datain stop --cleanup, --target %s', (target) => {
  it('leaves a replication user that someone created after datain\'s CREATE USER failed, and reports it', async () => {
    e = await newTargetEnv(target, {sampleRows: 20})
    expect((await e.run(['init'])).exitCode).toBe(0)
    // A password policy that refuses datain's generated password: CREATE USER fails (error 1819).
    await e.sandbox.source.server.execute(["INSTALL SONAME 'simple_password_check'", 'SET GLOBAL simple_password_check_minimal_length = 200'])
    try {
      const start = await e.run(['start'])
      expect(start.exitCode, start.stderr).toBe(1)
      expect(start.stderr).toMatch(/E_REPLICATION_USER\b/)
    } finally {
      await e.sandbox.source.server.execute(["UNINSTALL SONAME 'simple_password_check'"])
    }
    expect((await checkpoint(e)).steps['replication-user']).toMatchObject({state: 'failed', output: {creating: false}})

    // The DBA creates the account by hand, for a replica of their own.
    await e.sandbox.source.server.execute(["CREATE USER 'datain_repl'@'%' IDENTIFIED BY 'The-DBAs-own-1'", "GRANT REPLICATION SLAVE ON *.* TO 'datain_repl'@'%'"])
    const run = await e.run(['stop', '--remove', '--cleanup'])
    expect(run.exitCode, run.stderr).toBe(0)
    expect(run.stderr + run.stdout).toMatch(/Left the replication user 'datain_repl'@'%' on the source: datain has no record that it created this account/)
    expect(run.stdout).toMatch(/'datain_repl'@'%' left alone: datain did not create it/)
    expect(await accounts(e, 'datain_repl')).toBe(1)

    // And datain start does not take it over either.
    expect((await json<{cleanup: CleanupJson['cleanup']}>(e, ['stop', '--cleanup'])).cleanup.replicationUser.action).toBe('not-created')
    expect(await accounts(e, 'datain_repl')).toBe(1)
  })
})
