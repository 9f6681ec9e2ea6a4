/**
 * Group 2, servers failing: the emulated ARM answering 500, not answering, answering 429 with
 * Retry-After; datain's connection to the replica killed by the server during the catch-up wait;
 * the source restarted while the snapshot step copies, and while replication runs under a write
 * load. datain retries what is safe, fails otherwise with one paragraph and exit 4, and resumes;
 * the replica reconnects to a restarted source by itself, and status says so.
 */
import type {AzureSandbox} from '../../sandbox/sandbox.js'
import {setTimeout as sleep} from 'node:timers/promises'
import {SETUP_STEPS} from '../../src/steps/index.js'
import {startWriteLoad} from '../../test/helpers/write-load.js'
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
  tearDown,
  waitFor,
  type CliResult,
  type Env,
} from './lib.js'

const ARM_TIMEOUT_MS = 4000
/** Rows of a table added for the restart mid-snapshot: enough for a copy of a few seconds. */
const BULK_ROWS = 200_000

/** `datain status --json`, parsed; undefined when stdout is not one JSON object. */
async function statusJson(env: Record<string, string>): Promise<{r: CliResult; report?: {state?: string; summary?: string; replication?: {io?: string} | null}}> {
  const r = await datain(['status', '--json'], env, 60_000)
  try {
    return {r, report: JSON.parse(r.stdout)}
  } catch {
    return {r}
  }
}

export async function serversGroup(): Promise<Group> {
  const group = new Group('servers')
  const done: string[] = []
  let e: Env<AzureSandbox> | undefined
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
              sandbox.replica.account,
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
    // The checkpoint holds other records beside the steps (the replication password's, stop's): only the seven steps count.
    group.check('every step done at the end', SETUP_STEPS.every((s) => steps[s.id]?.state === 'done'), JSON.stringify(steps))
    const diff = await replicaDiff(sandbox)
    group.check('the replica is identical to the source', !diff, diff)
    const dup = await duplicatesProblem(sandbox)
    group.check('one replication user, one firewall rule per address', !dup, dup)

    await group.attempt('source restarted mid-snapshot', async () => {
      // A table large enough for the copy to last, then a new setup that copies it.
      await sandbox.source.server.execute([
        // The Sequence engine's seq_1_to_N tables exist in whichever database is the current one.
        'USE shop',
        'CREATE TABLE restart_bulk (id INT PRIMARY KEY, pad VARCHAR(100) NOT NULL) ENGINE=InnoDB',
        `INSERT INTO restart_bulk SELECT seq, REPEAT('r', 100) FROM seq_1_to_${BULK_ROWS}`,
      ])
      await tearDown(group, e!)
      const run = spawnDatain(['start'], env, 300_000)
      const replicaRows = async () => {
        const [row] = await sandbox.replica.server
          .query<Array<{n: bigint | number}>>("SELECT COALESCE(SUM(TABLE_ROWS), 0) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop'")
          .catch(() => [{n: 0}])
        return Number(row?.n ?? 0)
      }
      const copying = await waitFor(async () => run.child.exitCode !== null || (run.stderr().includes('▶ Snapshot') && (await replicaRows()) > 0), 120_000, 50)
      const snapshotRunning = (await readCheckpoint(e!))?.steps.snapshot?.state === 'running'
      const midCopy = copying && run.child.exitCode === null && snapshotRunning
      const began = Date.now()
      await sandbox.source.server.restart()
      group.check(
        `the source restarted while the snapshot step copied (back in ${((Date.now() - began) / 1000).toFixed(1)} s)`,
        midCopy,
        `datain ${run.child.exitCode === null ? 'ran' : `had ended (exit ${run.child.exitCode})`}, snapshot ${snapshotRunning ? 'running' : 'not running'}\n${run.stderr().slice(-1500)}`,
      )
      const first = await run.done
      const snapshotState = (await readCheckpoint(e!))?.steps.snapshot?.state
      group.check(
        `restart mid-snapshot: datain fails cleanly or survives (exit ${first.exitCode}, ${/Code: (\w+)/.exec(first.stderr)?.[1] ?? 'no code'}, snapshot ${snapshotState})`,
        first.exitCode === 0 || (!cleanFailureProblem(first, [1, 4]) && snapshotState === 'failed'),
        cleanFailureProblem(first, [0, 1, 4]) ?? `snapshot ${snapshotState}`,
      )
      const again = first.exitCode === 0 ? first : await datain(['start'], env, 300_000)
      group.check('restart mid-snapshot: datain start then completes', again.exitCode === 0, cleanFailureProblem(again, 0))
      const restartDiff = await replicaDiff(sandbox)
      group.check('restart mid-snapshot: the replica is identical to the source', !restartDiff, restartDiff)
      const restartDup = await duplicatesProblem(sandbox)
      group.check('restart mid-snapshot: one replication user, one firewall rule per address', !restartDup, restartDup)
      if (midCopy && again.exitCode === 0 && !restartDiff) done.push('restart mid-snapshot')
    })

    await group.attempt('source restarted mid-replication', async () => {
      const ready = await statusJson(env)
      if (!group.check('before the restart: status healthy', ready.r.exitCode === 0 && ready.report?.state === 'healthy', ready.r.stdout.slice(0, 1500) + ready.r.stderr)) return
      const load = await startWriteLoad(sandbox)
      let written = {statements: 0, reconnects: 0}
      let healthy = false
      let neverBroken = true
      const states: string[] = []
      try {
        await sleep(1000)
        const before = sandbox.source.server.pid
        await sandbox.source.server.restart()
        group.check('the source restarted (another mariadbd on the same data and port)', sandbox.source.server.pid !== before, `pid ${before}`)
        // The replica tried once while the source was down; it tries again Connect_Retry (60 s) later, on its own.
        const deadline = Date.now() + 180_000
        while (Date.now() < deadline) {
          const {r, report} = await statusJson(env)
          states.push(`${report?.state ?? `exit ${r.exitCode}`}/${report?.replication?.io ?? '-'}`)
          if (report?.state === 'broken') neverBroken = false
          if (r.exitCode === 0 && report?.state === 'healthy' && report.replication?.io === 'running') {
            healthy = true
            break
          }
          await sleep(2000)
        }
      } finally {
        written = await load.stop()
      }
      const seen = states.filter((x, i) => x !== states[i - 1]).join(' → ')
      group.check(`restart mid-replication: datain status --json healthy (exit 0) again, with nothing run (${seen})`, healthy, seen)
      group.check('restart mid-replication: status never said broken while the replica reconnected', neverBroken, seen)
      const [slave] = await sandbox.replica.server.query<Array<{Slave_IO_Running: string; Slave_SQL_Running: string; Last_SQL_Errno: number}>>('SHOW SLAVE STATUS')
      group.check(
        "restart mid-replication: the replica's IO thread reconnected by itself, no SQL error",
        slave?.Slave_IO_Running === 'Yes' && slave.Slave_SQL_Running === 'Yes' && Number(slave.Last_SQL_Errno) === 0,
        JSON.stringify(slave, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
      )
      console.log(`    write load: ${written.statements} statements, ${written.reconnects} reconnects across the restart`)
      group.check('restart mid-replication: the write load went on across the restart', written.reconnects > 0, JSON.stringify(written))
      const replDiff = await replicaDiff(sandbox)
      group.check('restart mid-replication: after the catch-up the replica is identical to the source', !replDiff, replDiff)
      const after = await statusJson(env)
      group.check('restart mid-replication: status healthy after the catch-up', after.r.exitCode === 0 && after.report?.state === 'healthy', after.r.stdout.slice(0, 1500))
      if (healthy && !replDiff && slave?.Slave_IO_Running === 'Yes') done.push('restart mid-replication')
    })
  } catch (error) {
    group.check('the servers group ran', false, (error as Error)?.stack ?? String(error))
  } finally {
    await dispose(e)
  }
  group.summary = `servers: ${done.length} faults survived of 6 (${done.join(', ')}); ${group.passed} checks passed, ${group.failed} failed`
  return group
}
