import {DatainError, ExitCode} from '../lib/errors.js'
import {setupFingerprint} from '../state/fingerprint.js'
import type {ProfileStore} from '../state/profile-store.js'
import type {Checkpoint, ReplicationMode, Settings} from '../state/schema.js'
import {assertLinkNotRemoved} from '../state/stop-records.js'

/** Who opens the checkpoint: `start` (to run or resume the setup) or `stop` (to end it). */
export type CheckpointPurpose = {command: 'start'; dryRun: boolean} | {command: 'stop'}

/**
 * The checkpoint of a profile's setup, for `datain start` and `datain stop`: refused (E_PROFILE_CHANGED)
 * when the settings no longer describe the servers it was written for. For `start`, also refused once
 * `datain stop` removed the link (E_LINK_REMOVED), and started over, with the fingerprint of these
 * servers, on a first run (not under --dry-run, which writes nothing). Take the profile's lock first.
 */
export async function openSetupCheckpoint(
  session: {profile: string; settings: Settings; store: ProfileStore},
  purpose: CheckpointPurpose,
): Promise<Checkpoint> {
  const checkpoint = await session.store.readCheckpoint()
  const fingerprint = setupFingerprint(session.settings)
  if (checkpoint.fingerprint && checkpoint.fingerprint !== fingerprint) throw profileChanged(session.profile, purpose.command)
  if (purpose.command === 'stop') return checkpoint
  // After 'datain stop --remove' or '--cutover' the setup is finished: never link again from the old snapshot.
  assertLinkNotRemoved(checkpoint, session.profile)
  if (checkpoint.fingerprint || purpose.dryRun) return checkpoint
  return session.store.resetCheckpoint(fingerprint)
}

/** E_PROFILE_CHANGED (exit 2): the settings were changed after the setup began; the way out depends on the command. */
function profileChanged(profile: string, command: CheckpointPurpose['command']): DatainError {
  const ways =
    command === 'start'
      ? `Put the settings back with 'datain init --force' and the old values, or finish with the old setup ` +
        `('datain stop --remove --cleanup') before starting a new one, or use another --profile.`
      : "and datain will not stop, remove or clean up anything from it. Put the settings back with 'datain init --force', or use another --profile."
  const lead = `The profile '${profile}' was changed (servers, databases or mode) after its setup began, so its checkpoint `
  return new DatainError(command === 'start' ? `${lead}does not describe these servers. ${ways}` : `${lead}does not describe these servers ${ways}`, {
    code: 'E_PROFILE_CHANGED',
    exit: ExitCode.usage,
  })
}

/** How the replica follows the source: as the link step linked it, else as the settings say (not linked yet). */
export function setupMode(checkpoint: Checkpoint, settings: Settings): ReplicationMode {
  return checkpoint.steps.link?.output?.mode ?? (settings.gtid ? 'gtid' : 'file')
}
