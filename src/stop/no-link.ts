import type {Session} from '../engine/session.js'
import type {Checkpoint} from '../state/schema.js'
import {markReplicationStopped, STOP_RECORDS} from '../state/stop-records.js'
import type {RemovedOutput} from '../state/step-outputs.js'
import {linkGone, notLinkedYet} from './refusals.js'
import type {StopOptions, StopResult} from './run-stop.js'

/** No link on the replica: linked once and removed behind datain's back, or a setup abandoned before it linked. */
export async function recordNoLink(session: Session, checkpoint: Checkpoint, options: StopOptions, result: StopResult): Promise<void> {
  const {store} = session
  const wantRemove = options.remove || options.cutover
  const linkDone = checkpoint.steps.link?.state === 'done'
  if (!linkDone && !(options.remove && options.cleanup && !options.cutover)) throw notLinkedYet(options.profile, checkpoint)
  if (linkDone && (!wantRemove || options.cutover)) throw linkGone(options.profile, options.cutover)
  // Linked once and removed behind datain's back, or a setup abandoned before it linked: record it as removed.
  const at = new Date().toISOString()
  const output: RemovedOutput = {removedAt: at, via: 'remove', linked: false, position: null}
  await store.markStop(STOP_RECORDS.removed, {state: 'done', output})
  if (checkpoint.steps.replicate) await markReplicationStopped(store, 'removed', at)
  await store.journal('link-removed', {found: 'no link on the replica', ...output})
  options.ui.info(
    linkDone
      ? 'The replica has no replication link any more (it was removed outside datain): recorded as removed.'
      : 'The setup had not linked the replica yet: recorded as ended, nothing to remove on the replica.',
  )
  const copied = checkpoint.steps.snapshot?.output?.createdDatabases ?? []
  if (!linkDone && copied.length > 0) {
    options.ui.info(`The replica keeps what the copy wrote (${copied.join(', ')}): drop ${copied.length === 1 ? 'that database' : 'those databases'} on the replica if ${copied.length === 1 ? 'it is' : 'they are'} not wanted.`)
  }
  result.link = 'removed'
}
