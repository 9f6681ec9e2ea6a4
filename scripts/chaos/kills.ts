/**
 * Group 1, kills: `datain start` SIGKILLed at random moments across a whole setup under a steady
 * write load, started again each time, then run to completion: the replica must end identical to
 * the source (rows and SHOW CREATE TABLE) with one replication user and one firewall rule per address.
 *
 * Half the runs build the plain indexes of every table that can after its rows
 * (DATAIN_KEYS_AFTER_ROWS_MB=0: shop.kills_keyed, like every table here, is under 16 MB), and two thirds of those that
 * will reach the snapshot are killed as soon as the replica runs such an ALTER TABLE … ADD KEY; the
 * other runs use the default, so that a resume may meet keys an earlier run deferred with another
 * setting.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {SETUP_STEPS} from '../../src/steps/index.js'
import {awaitBuild, buildRunning, definitionsDiff, keyedTableStatements} from './kill-keys.js'
import {startWriteLoad} from '../../test/helpers/write-load.js'
import {
  cleanFailureProblem,
  datain,
  dispose,
  duplicatesProblem,
  Group,
  newTargetEnv,
  prng,
  readCheckpoint,
  replicaDiff,
  spawnDatain,
  tearDown,
  waitFor,
  type Env,
} from './lib.js'

export interface KillOptions {
  seed: number
  /** The replica: Azure's emulation (default) or a plain MariaDB server. */
  target?: 'azure-mariadb' | 'mariadb'
  kills: number
  sampleRows: number
  maxDelayMs: number
  /** The whole group, kills and final run included. */
  timeLimitMs: number
}

const STEPS = SETUP_STEPS.map((step) => [step.id, step.title] as const)
const SNAPSHOT = STEPS.findIndex(([id]) => id === 'snapshot')

/**
 * A kill is aimed at a random moment (0..maxDelay) after the first unfinished step announced itself
 * (`▶ Title`), so that kills spread over every step rather than over node's start-up. A step killed
 * three times in a row without finishing is let through once (the kill then aims at the next one):
 * a copy longer than maxDelay would otherwise never end.
 */
export async function killsGroup(o: KillOptions): Promise<Group> {
  const group = new Group('kills')
  const random = prng(o.seed)
  const deadline = Date.now() + o.timeLimitMs
  const byStep = new Map<string, number>()
  let kills = 0
  let converged = 0
  let finishedOnTheirOwn = 0
  let setups = 0
  let identicalSetups = 0
  let keysAfterRowsRuns = 0
  let killsAtBuild = 0
  let e: Env | undefined
  try {
    e = await newTargetEnv(o.target, {sampleRows: o.sampleRows})
    const env = e.env
    // The table the load writes exists before init, so that it is part of the copy; so does the one whose indexes take a while.
    await e.sandbox.source.server.execute(keyedTableStatements(Math.max(50_000, o.sampleRows * 4)))
    let load = await startWriteLoad(e.sandbox)
    let statements = 0
    try {
      const init = await datain(['init'], env)
      if (!group.check('init passes', init.exitCode === 0, init.stderr + init.stdout)) return group

      let sameStepKills = 0
      // The kill's delay is drawn below this bound, which follows how long the runs last: a run that
      // finishes before its kill halves it (start got faster: most of 3 s fell after its end), a run
      // killed widens it again, up to maxDelayMs.
      let maxDelayMs = o.maxDelayMs
      let lastKilledStep: string | undefined
      let previousKilled = false
      for (let round = 0; kills < o.kills && Date.now() < deadline && round < o.kills * 3; round++) {
        let steps = (await readCheckpoint(e))?.steps ?? {}
        if (STEPS.every(([id]) => steps[id]?.state === 'done')) {
          // A setup finished: check it, then take it down and set up again, so that kills land all over setups.
          setups++
          // The state a kill left was a finished setup: that run converged.
          if (previousKilled) converged++
          // Compared with the load paused: a source that moves on after MASTER_GTID_WAIT would differ.
          statements += (await load.stop()).statements
          const diff = (await replicaDiff(e.sandbox)) ?? (await definitionsDiff(e.sandbox))
          if (group.check(`setup ${setups}: the replica is identical to the source`, !diff, diff)) identicalSetups++
          load = await startWriteLoad(e.sandbox)
          await tearDown(group, e)
          steps = {}
          previousKilled = false
          sameStepKills = 0
        }
        const firstUnfinished = STEPS.findIndex(([id]) => steps[id]?.state !== 'done')
        // After the whole setup: preflight and replicate still run on every start.
        let target = firstUnfinished < 0 ? 0 : firstUnfinished
        if (sameStepKills >= 3 && target < STEPS.length - 1) target++
        const [, title] = STEPS[target]!
        const delay = Math.floor(random() * maxDelayMs)
        const keysAfterRows = random() < 0.5
        // Any run that will reach the snapshot: the steps before it take a second or less.
        const atBuild = keysAfterRows && target <= SNAPSHOT && random() < 0.67
        if (keysAfterRows) keysAfterRowsRuns++

        const run = spawnDatain(['start'], keysAfterRows ? {...env, DATAIN_KEYS_AFTER_ROWS_MB: '0'} : env, 300_000)
        const announced = await waitFor(() => run.stderr().includes(`▶ ${title}`) || run.child.exitCode !== null, 120_000, 20)
        // Aimed at a build: killed the moment one shows on the replica (if none does, the run ends on its own).
        const build = atBuild && announced ? await awaitBuild(e.sandbox, run, 120_000) : undefined
        if (announced && run.child.exitCode === null && !atBuild) await sleep(delay)
        const alive = run.child.exitCode === null && run.child.signalCode === null
        if (alive) run.child.kill('SIGKILL')
        const result = await run.done

        if (previousKilled) {
          // What a kill left (checkpoint, lock, half a copy) must not stop the next run on its own.
          const ownFailure = result.signal !== 'SIGKILL' && result.exitCode !== 0
          if (ownFailure) group.check(`the run after kill ${kills} resumes`, false, cleanFailureProblem(result, 0) ?? result.stderr.slice(-1500))
          else converged++
        }
        if (alive && result.signal === 'SIGKILL') {
          kills++
          const killedIn = Object.entries((await readCheckpoint(e))?.steps ?? {}).find(([, s]) => s.state === 'running')?.[0] ?? 'before any step'
          byStep.set(killedIn, (byStep.get(killedIn) ?? 0) + 1)
          sameStepKills = killedIn === lastKilledStep ? sameStepKills + 1 : 1
          lastKilledStep = killedIn
          previousKilled = true
          maxDelayMs = Math.min(o.maxDelayMs, Math.round(maxDelayMs * 1.25))
          if (build !== undefined) killsAtBuild++
          // The replica's ALTER outlives its client: the next run may meet it.
          const orphan = build === undefined ? undefined : await buildRunning(e.sandbox)
          const when = build === undefined ? `${delay} ms after '▶ ${title}'` : `during an index build (${build}; after the kill ${orphan === undefined ? 'gone' : `still ${orphan}`})`
          console.log(`    kill ${kills}: ${when}, in ${killedIn}${keysAfterRows ? ', DATAIN_KEYS_AFTER_ROWS_MB=0' : ''}`)
        } else {
          if (result.exitCode === 0) finishedOnTheirOwn++
          if (result.exitCode === 0) maxDelayMs = Math.max(50, Math.round(maxDelayMs / 2))
          previousKilled = false
          sameStepKills = 0
        }
      }
      group.check(`at least ${o.kills} kills within the time limit`, kills >= o.kills, `${kills} kills`)

      const final = await datain(['start'], env, Math.max(60_000, deadline - Date.now()))
      if (previousKilled && final.exitCode === 0) converged++
      group.check('the final datain start completes', final.exitCode === 0, cleanFailureProblem(final, 0))
      setups++
    } finally {
      statements += (await load.stop()).statements
    }
    console.log(`    write load: ${statements} statements on the source`)
    const diff = (await replicaDiff(e.sandbox)) ?? (await definitionsDiff(e.sandbox))
    if (group.check('the replica is identical to the source (row counts, CHECKSUM TABLE after MASTER_GTID_WAIT, SHOW CREATE TABLE)', !diff, diff)) identicalSetups++
    const dup = await duplicatesProblem(e.sandbox)
    group.check('one replication user, one firewall rule per address', !dup, dup)
  } catch (error) {
    group.check('the kills group ran', false, (error as Error)?.stack ?? String(error))
  } finally {
    await dispose(e)
  }
  const spread = [...byStep.entries()].map(([step, n]) => `${step} ${n}`).join(', ')
  group.summary =
    `kills: ${kills} done, ${converged} converged (seed ${o.seed}; ${setups} setups, ${identicalSetups} identical; ` +
    `by step: ${spread || 'none'}; ${killsAtBuild} during an index build; ${keysAfterRowsRuns} runs with DATAIN_KEYS_AFTER_ROWS_MB=0; ` +
    `${finishedOnTheirOwn} runs finished before their kill)`
  return group
}
