import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import {TARGETS} from '../helpers/targets.js'
import {checkpoint, dispose, type Env as TargetEnv, expectIdentical, expectNoSecrets, json, journal, newTargetEnv, replicationPassword, slaveStatus} from '../stop/helpers.js'

type Env = TargetEnv<AnySandbox>

/**
 * `datain stop` against the sandbox, one setup taken through its life: refusals before it is
 * linked, stop, start again, stop again, --remove, start refused, --cleanup (twice).
 */

interface StopJson {
  action: string
  link: 'stopped' | 'removed'
  stoppedNow: boolean
  removedNow: boolean
  position: {mode: string; gtid: string; file: string; position: number} | null
  cleanup: null | {
    replicationUser: {user: string; action: string}
    secretRemoved: boolean
    firewallRules: {deleted: string[]; absent: string[]; left: string[]}
    parameters: Array<{name: string; previous: string | null; action: string}>
  }
}

interface ErrorJson {
  error: {code: string; exit: number; message: string}
}

interface StartJson {
  steps: Array<{id: string; result: string; output?: Record<string, unknown>}>
}

describe.each(TARGETS)('datain stop, --remove and --cleanup (GTID mode), --target %s', (target) => {
  let e: Env
  let replicationSecret = ''
  beforeAll(async () => {
    e = await newTargetEnv(target)
    expect((await e.run(['init'])).exitCode).toBe(0)
  })
  afterAll(() => dispose(e))

  // Some twenty CLI runs, two seconds each on a busy machine.
  it('refuses before the setup has linked the replica, and --cleanup without a removal (exit 2)', {timeout: 150_000}, async () => {
    const before = await json<ErrorJson>(e, ['stop'], 2)
    expect(before.error.code).toBe('E_NOT_LINKED')
    expect(before.error.message).toMatch(/Nothing to stop/)
    expect((await json<ErrorJson>(e, ['stop', '--remove'], 2)).error.code).toBe('E_NOT_LINKED')
    expect((await json<ErrorJson>(e, ['stop', '--cleanup'], 2)).error.code).toBe('E_CLEANUP_BEFORE_REMOVE')
    // The cutover's flags mean nothing without it: one paragraph, exit 2, whatever else is given.
    for (const args of [['--lock-source'], ['--no-lock-source'], ['--timeout', '30'], ['--remove', '--no-lock-source', '--timeout', '5']]) {
      const refused = await json<ErrorJson>(e, ['stop', ...args], 2)
      expect(refused.error.code, args.join(' ')).toBe('E_CUTOVER_ONLY_FLAG')
      expect(refused.error.message).toMatch(/means? something only with --cutover.* Nothing was done\./)
    }
    const plain = await e.run(['stop', '--timeout', '30'])
    expect(plain.exitCode).toBe(2)
    expect(plain.stderr).toMatch(/--timeout means something only with --cutover/)
    expect(plain.stderr).not.toMatch(/\n\s+at /)
    // DATAIN_CUTOVER_TIMEOUT is read only for a cutover: exported, it does not make a plain stop a usage error; a bad one is.
    const exported = await e.run(['stop', '--json'], {DATAIN_CUTOVER_TIMEOUT: '30'})
    expect(JSON.parse(exported.stdout).error.code).toBe('E_NOT_LINKED')
    for (const bad of ['abc', '0', '-5', '1e999', ' ']) {
      const refused = await e.run(['stop', '--cutover', '--json'], {DATAIN_CUTOVER_TIMEOUT: bad})
      if (bad.trim() === '') expect(JSON.parse(refused.stdout).error.code, 'blank means unset').not.toBe('E_BAD_INPUT')
      else expect([refused.exitCode, JSON.parse(refused.stdout).error.code], bad).toEqual([2, 'E_BAD_INPUT'])
    }

    const start = await e.run(['start'])
    expect(start.exitCode, start.stderr).toBe(0)
    replicationSecret = await replicationPassword(e)
    expect((await json<ErrorJson>(e, ['stop', '--cleanup'], 2)).error.code).toBe('E_CLEANUP_BEFORE_REMOVE')
    expect((await json<ErrorJson>(e, ['stop', '--remove', '--lock-source'], 2)).error.code).toBe('E_CUTOVER_ONLY_FLAG')
    // Refused before anything was touched.
    expect((await slaveStatus(e))?.Slave_SQL_Running).toBe('Yes')
  })

  it('stops; writes meanwhile wait on the source; start again runs only replicate, and they arrive', async () => {
    const stop = await json<StopJson>(e, ['stop'])
    expect(stop).toMatchObject({action: 'stop', link: 'stopped', stoppedNow: true, removedNow: false})
    expect(stop.position?.gtid).toMatch(/^0-1-\d+$/)
    const status = await slaveStatus(e)
    expect([status?.Slave_IO_Running, status?.Slave_SQL_Running]).toEqual(['No', 'No'])
    const record = (await checkpoint(e)).steps.replicate
    expect(record).toMatchObject({state: 'interrupted', error: {code: 'E_STOPPED'}})
    expect((await journal(e)).map((j) => j.event)).toContain('replication-stopped')

    await e.sandbox.source.server.execute([
      "INSERT INTO shop.daily_sales (day, order_count, revenue) VALUES ('2031-02-01', 7, 70.5), ('2031-02-02', 8, 80.25)",
      "UPDATE shop.orders SET `delivery note` = 'written while stopped' WHERE id <= 5",
    ])
    const [missing] = await e.sandbox.replica.server.query<Array<{n: number}>>("SELECT COUNT(*) AS n FROM shop.daily_sales WHERE day >= '2031-02-01'")
    expect(Number(missing!.n)).toBe(0)

    // Stopping again is safe: nothing to do, exit 0.
    const again = await json<StopJson>(e, ['stop'])
    expect(again).toMatchObject({link: 'stopped', stoppedNow: false})
    expect((await checkpoint(e)).steps.replicate?.finishedAt).toBe(record?.finishedAt)

    const start = await json<StartJson>(e, ['start'])
    const results = Object.fromEntries(start.steps.map((s) => [s.id, s.result]))
    expect(results).toMatchObject({'replication-user': 'skipped', firewall: 'skipped', snapshot: 'skipped', link: 'skipped', replicate: 'done'})
    expect(start.steps.find((s) => s.id === 'replicate')?.output?.alreadyRunning).toBe(false)
    expect((await checkpoint(e)).steps.replicate?.state).toBe('done')
    const running = await slaveStatus(e)
    expect([running?.Slave_IO_Running, running?.Slave_SQL_Running]).toEqual(['Yes', 'Yes'])
    await expectIdentical(e)
  })

  it('--remove leaves the replica standalone; repeated it is a no-op; start then refuses', async () => {
    const removed = await json<StopJson>(e, ['stop', '--remove'])
    expect(removed).toMatchObject({action: 'remove', link: 'removed', stoppedNow: true, removedNow: true})
    expect(await slaveStatus(e)).toBeUndefined()
    expect((await checkpoint(e)).stop.removed).toMatchObject({state: 'done', output: {via: 'remove', linked: true}})

    expect(await json<StopJson>(e, ['stop', '--remove'])).toMatchObject({link: 'removed', stoppedNow: false, removedNow: false})
    expect(await json<StopJson>(e, ['stop'])).toMatchObject({link: 'removed', stoppedNow: false})

    const start = await json<ErrorJson>(e, ['start'], 2)
    expect(start.error.code).toBe('E_LINK_REMOVED')
    expect(start.error.message).toMatch(/new snapshot/)
    expect(start.error.message).toMatch(/another profile.*--replace-databases/)
    expect((await json<ErrorJson>(e, ['start', '--dry-run'], 2)).error.code).toBe('E_LINK_REMOVED')
    expect((await json<ErrorJson>(e, ['stop', '--cutover'], 2)).error.code).toBe('E_ALREADY_REMOVED')
    expect(await slaveStatus(e)).toBeUndefined()
  })

  it("--cleanup drops datain's user, deletes only datain's rules (Azure; a plain replica has none), puts parameters back; twice", async () => {
    const rules = e.sandbox.azure?.state.firewallRules
    const datainRules = [...(rules?.keys() ?? [])].filter((name) => name.startsWith('datain-default-'))
    expect(datainRules.length > 0).toBe(target === 'azure-mariadb')
    rules?.set('office-vpn', {name: 'office-vpn', startIpAddress: '10.20.30.0', endIpAddress: '10.20.30.255'})
    const trust = async () =>
      Number((await e.sandbox.replica.server.query<Array<{v: number}>>('SELECT @@global.log_bin_trust_function_creators AS v'))[0]!.v)
    expect(await trust()).toBe(1)

    const first = await json<StopJson>(e, ['stop', '--cleanup'])
    expect(first.action).toBe('cleanup')
    expect(first.cleanup?.replicationUser).toMatchObject({user: 'datain_repl', action: 'dropped'})
    expect(first.cleanup?.secretRemoved).toBe(true)
    expect([...(first.cleanup?.firewallRules.deleted ?? [])].sort()).toEqual([...datainRules].sort())
    expect(first.cleanup?.parameters).toEqual([expect.objectContaining({name: 'log_bin_trust_function_creators', previous: 'OFF', action: 'restored'})])

    const users = await e.sandbox.source.server.query<unknown[]>("SELECT User FROM mysql.user WHERE User = 'datain_repl'")
    expect(users).toHaveLength(0)
    if (rules) expect([...rules.keys()]).toEqual(['office-vpn'])
    expect(await trust()).toBe(0)
    expect((await checkpoint(e)).stop.cleanup?.state).toBe('done')

    // Again; on Azure although the gateway now refuses this machine (its rule is gone): the cleanup needs only the source and ARM.
    const second = await json<StopJson>(e, ['stop', '--cleanup'])
    expect(second.cleanup?.replicationUser.action).toBe('absent')
    expect(second.cleanup?.firewallRules).toMatchObject({deleted: [], absent: expect.arrayContaining(datainRules)})
    expect(second.cleanup?.parameters[0]?.action).toBe('already-restored')
    if (rules) expect([...rules.keys()]).toEqual(['office-vpn'])
    expect(await trust()).toBe(0)

    const events = (await journal(e)).map((j) => j.event)
    expect(events).toEqual(expect.arrayContaining(['link-removed', 'replication-user-dropped', 'parameter-restored', 'cleanup-done']))
    expect(events.includes('firewall-rule-deleted')).toBe(target === 'azure-mariadb')

    if (target === 'mariadb') {
      // The my.cnf line datain suggested brought datain's value back (a restart): the cleanup puts it back again and says to remove the line.
      await e.sandbox.replica.server.query('SET GLOBAL log_bin_trust_function_creators = ON')
      const again = await e.run(['stop', '--cleanup'])
      expect(again.exitCode, again.stderr).toBe(0)
      expect(again.stdout).toMatch(/log_bin_trust_function_creators: put back to OFF/)
      expect(again.stderr).toMatch(/If the replica's my\.cnf has the line log_bin_trust_function_creators = ON that datain suggested, remove it\./)
      expect(await trust()).toBe(0)
    }
    expectNoSecrets(e, [replicationSecret])
  })
})
