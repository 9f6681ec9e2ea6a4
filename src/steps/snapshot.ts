import {planSnapshot} from './snapshot-plan.js'
import {runSnapshot} from './snapshot-run.js'
import type {Step} from './step.js'

/**
 * Step 5: one consistent copy of the selected databases, streamed from the source into the replica,
 * with the source's binlog file/position and GTID of that very copy in its output. Safe to re-run:
 * a rerun first drops the databases an unfinished attempt recorded as its own, then copies afresh.
 */
export const snapshotStep: Step<'snapshot'> = {
  id: 'snapshot',
  title: 'Snapshot',
  describe: 'copies the selected databases into the replica in one consistent stream and records the source position of that copy',
  plan: planSnapshot,
  run: runSnapshot,
}
