import type {Session} from '../engine/session.js'
import type {Checkpoint} from '../state/schema.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import type {LinkState} from '../replication/link-state.js'
import type {StopOptions} from './run-stop.js'
import type {RemovedOutput} from '../state/stop-records.js'

/** What `datain stop` refuses, and why: one paragraph each, with the command to run instead. */

/** --lock-source, --no-lock-source, --timeout and --verify mean something only with --cutover (exit 2). */
export function refuseCutoverFlags(options: StopOptions): void {
  const given = [
    ...(options.lockSource === undefined ? [] : [options.lockSource ? '--lock-source' : '--no-lock-source']),
    ...(options.timeoutMs === undefined ? [] : ['--timeout']),
    ...(options.verify ? ['--verify'] : []),
  ]
  if (given.length === 0) return
  const p = flag(options.profile)
  throw new DatainError(
    `${given.join(' and ')} ${given.length === 1 ? 'means' : 'mean'} something only with --cutover: ${given.length === 1 ? 'it tells' : 'they tell'} the cutover ` +
      'how to fence the source, how long to wait for the replica and whether to compare it first, and a plain stop or removal neither fences, waits nor compares. Nothing was done. ' +
      `Run datain stop${p} --cutover ${given.join(' ')} to cut over, or leave ${given.length === 1 ? 'it' : 'them'} out.`,
    {code: 'E_CUTOVER_ONLY_FLAG', exit: ExitCode.usage, suggestions: [`datain stop${p} --cutover ${given.join(' ')}`]},
  )
}

export const flag = (profile: string) => (profile === 'default' ? '' : ` --profile ${profile}`)

export function notLinkedYet(profile: string, checkpoint: Checkpoint): DatainError {
  const began = Boolean(checkpoint.fingerprint)
  return new DatainError(
    `Nothing to stop: ${began ? "the setup of profile '" + profile + "' has not linked the replica to the source yet" : `'datain start${flag(profile)}' has not run for profile '${profile}'`}, ` +
      'so nothing replicates. ' +
      (began
        ? `Run datain start${flag(profile)} to finish the setup, or abandon it and remove what it created with datain stop${flag(profile)} --remove --cleanup.`
        : `Run datain start${flag(profile)} first.`),
    {code: 'E_NOT_LINKED', exit: ExitCode.usage, suggestions: [`datain start${flag(profile)}`]},
  )
}

export function linkGone(profile: string, cutover: boolean): DatainError {
  return new DatainError(
    'The replica has no replication link, although datain linked it: it was removed outside datain, so ' +
      (cutover
        ? 'datain cannot wait for it to catch up, and no cutover can tell whether the replica has everything the source wrote.'
        : 'there is nothing to stop.') +
      ` To record the setup as ended, run datain stop${flag(profile)} --remove; to set it up again, a new profile (datain init --profile NEW …, then datain start --profile NEW).`,
    {code: 'E_LINK_GONE', exit: ExitCode.failed, suggestions: [`datain stop${flag(profile)} --remove`]},
  )
}

export function linkedElsewhere(session: Session, link: Extract<LinkState, {kind: 'other'}>): DatainError {
  const {source} = session.settings
  return new DatainError(
    `The replica replicates from ${link.status.masterHost}:${link.status.masterPort} as '${link.status.masterUser}', not from the source of profile ` +
      `'${session.profile}' (${source.publicHost}:${source.port} as '${session.settings.replicationUser}'). datain does not stop or remove a link it did not make.`,
    {code: 'E_REPLICA_LINKED', exit: ExitCode.failed},
  )
}

export function cleanupBeforeRemove(profile: string): DatainError {
  return new DatainError(
    `--cleanup removes the replication user, firewall rules and server parameters the replica needs to replicate, so it comes only with or after --remove: ` +
      `the link of profile '${profile}' is still in place. Run datain stop${flag(profile)} --remove --cleanup (or --cutover --cleanup) to end the setup and clean up at once.`,
    {code: 'E_CLEANUP_BEFORE_REMOVE', exit: ExitCode.usage, suggestions: [`datain stop${flag(profile)} --remove --cleanup`]},
  )
}

export function removedWithoutCutover(profile: string, removed: RemovedOutput): DatainError {
  return new DatainError(
    `No cutover: the link of profile '${profile}' was already removed at ${removed.removedAt} without one, so datain can no longer wait for the replica to apply ` +
      'what the source wrote, nor tell whether it has. Compare the data yourself (CHECKSUM TABLE on both sides) before moving the application.',
    {code: 'E_ALREADY_REMOVED', exit: ExitCode.usage},
  )
}
