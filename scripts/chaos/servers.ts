/**
 * Group 2, servers failing: the emulated ARM answering 500, not answering, answering 429 with
 * Retry-After; datain's connection to the replica killed by the server during the catch-up wait.
 * datain retries what is safe, fails otherwise with one paragraph and exit 4, and resumes.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {
  cleanFailureProblem,
  datain,
  dispose,
  duplicatesProblem,
  Group,
  newEnv,
  readCheckpoint,
  replicaDiff,
  spawnDatain,
  waitFor,
  type Env,
} from './lib.js'

const ARM_TIMEOUT_MS = 4000

export async function serversGroup(): Promise<Group> {
  const group = new Group('servers')
  const done: string[] = []
  let e: Env | undefined
  try {
    e = await newEnv({sampleRows: 1000})
    const sandbox = e.sandbox
    // Bounds a hung ARM request (DATAIN_ARM_TIMEOUT_MS); the time limits below bound datain anyway.
    const env = {...e.env, DATAIN_ARM_TIMEOUT_MS: String(ARM_TIMEOUT_MS)}
    const arm = sandbox.azure.arm
    const init = await datain(['init'], env)
    if (!group.check('init passes', init.exitCode === 0, init.stderr)) return group

    await group.attempt('ARM 500', async () => {
      arm.injectFault({status: 500, times: 30, pathIncludes: 'firewallRules'})
      const r = await datain(['start'], env, 180_000)
      arm.clearFaults()
      group.check('ARM 500 on every firewall call: exit 4, one paragraph, no stack trace', !cleanFailureProblem(r, 4), cleanFailureProblem(r, 4))
      const answered500 = arm.requestLog.filter((x) => x.status === 500).length
      group.check('ARM 500: retried a bounded number of times', answered500 > 1 && answered500 <= 30, `${answered500} answers of 500`)
      done.push('500')
    })

    await group.attempt('ARM hang', async () => {
      arm.hang(1)
      const began = Date.now()
      const r = await datain(['start'], env, 120_000)
      arm.clearFaults()
      const seconds = (Date.now() - began) / 1000
      group.check(
        `ARM not answering: exit 4 after DATAIN_ARM_TIMEOUT_MS, not a hang (${seconds.toFixed(1)} s)`,
        !cleanFailureProblem(r, 4) && seconds < 90,
        cleanFailureProblem(r, 4) ?? `${seconds} s`,
      )
      done.push('hang')
    })

    await group.attempt('ARM 429', async () => {
      const from = arm.requestLog.length
      arm.injectFault({status: 429, retryAfterSeconds: 1, times: 2, pathIncludes: 'firewallRules'})
      const r = await datain(['start'], env, 300_000)
      arm.clearFaults()
      group.check('ARM 429 (Retry-After 1) twice, then answering: start resumes and completes', r.exitCode === 0, cleanFailureProblem(r, 0))
      const log = arm.requestLog.slice(from)
      const throttled = log.findIndex((x) => x.status === 429)
      const retried = log.slice(throttled + 1).find((x) => x.path === log[throttled]?.path && x.status !== 429)
      const waitedMs = throttled >= 0 && retried ? Date.parse(retried.at) - Date.parse(log[throttled]!.at) : -1
      group.check(
        `ARM 429: the same request retried after Retry-After (${waitedMs} ms later)`,
        throttled >= 0 && retried !== undefined && waitedMs >= 900,
        JSON.stringify(log.slice(Math.max(0, throttled - 1), throttled + 4)),
      )
      done.push('429')
    })

    await group.attempt('replica connection killed', async () => {
      // The replica's SQL thread cannot apply changes to orders while root holds this lock: the catch-up wait lasts.
      const lock = await sandbox.replica.server.connectAsRoot()
      try {
        await lock.query('LOCK TABLES shop.orders WRITE')
        await sandbox.source.server.execute(["UPDATE shop.orders SET status = 'shipped' WHERE id <= 5"])
        const run = spawnDatain(['start'], env, 180_000)
        const waiting = await waitFor(() => run.stderr().includes('Catching up') || run.child.exitCode !== null, 60_000, 50)
        const sessions = async () =>
          (
            await sandbox.replica.server.query<Array<{id: bigint}>>('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?', [
              sandbox.replica.user,
            ])
          ).map((x) => Number(x.id))
        const before = await sessions()
        group.check('datain waits for the catch-up with a connection to the replica', waiting && run.child.exitCode === null && before.length > 0, run.stderr())
        for (const id of before) await sandbox.replica.server.execute([`KILL ${id}`]).catch(() => {})
        await sleep(3000)
        await lock.query('UNLOCK TABLES')
        let r = await run.done
        if (r.exitCode !== 0) {
          group.check('a killed replica connection: a clean failure when not reconnected', !cleanFailureProblem(r, [1, 3, 4]), cleanFailureProblem(r, [1, 3, 4]))
          r = await datain(['start'], env, 180_000)
        }
        group.check('a killed replica connection during the catch-up wait: start resumes to exit 0', r.exitCode === 0, cleanFailureProblem(r, 0))
        done.push('KILL')
      } finally {
        await lock.query('UNLOCK TABLES').catch(() => {})
        await lock.end().catch(() => {})
      }
    })

    const steps = (await readCheckpoint(e))?.steps ?? {}
    group.check('every step done at the end', Object.values(steps).every((s) => s.state === 'done') && Object.keys(steps).length === 7, JSON.stringify(steps))
    const diff = await replicaDiff(sandbox)
    group.check('the replica is identical to the source', !diff, diff)
    const dup = await duplicatesProblem(sandbox)
    group.check('one replication user, one firewall rule per address', !dup, dup)
  } catch (error) {
    group.check('the servers group ran', false, (error as Error)?.stack ?? String(error))
  } finally {
    await dispose(e)
  }
  group.summary = `servers: ${done.length} faults survived of 4 (${done.join(', ')}); ${group.passed} checks passed, ${group.failed} failed; source restarted mid-snapshot/mid-replication: not done (the sandbox has no restart)`
  return group
}
