import {describeTakeOver} from '../state/lock.js'
import {ownWork} from '../preflight/own-work.js'
import {rmdir, stat} from 'node:fs/promises'
import path from 'node:path'
import {openProfile, profilesDir, type ProfileStore} from '../state/profile-store.js'
import {CHECKPOINT_VERSION, type Settings, STATE_VERSION} from '../state/schema.js'
import {DatainError, ExitCode, isDatainError} from '../lib/errors.js'
import {requirePassword} from '../lib/ask.js'
import type {CheckResult, CheckStatus} from '../preflight/check.js'
import {openPreflight} from '../preflight/context.js'
import {PREFLIGHT_CHECKS} from '../preflight/index.js'
import {countByStatus, preflightPassed, runChecks} from '../preflight/run.js'
import {replicaAddress, sourceAddress, tlsWarnings} from '../engine/addresses.js'
import {azureTarget} from '../targets/index.js'
import {armClient, readArmServer} from '../azure/arm.js'
import {preflightSettings} from '../preflight/settings.js'
import {type InitFlags, settingsChanges, settingsFromFlags} from './settings-from-flags.js'

export interface InitResult {
  profile: string
  /** What happened to the profile's settings. */
  recorded: 'created' | 'updated' | 'unchanged'
  settings: Settings
  passed: boolean
  counts: Record<CheckStatus, number>
  checks: CheckResult[]
  /** The address Azure's gateway refused, when it did: `datain start` adds a rule for it. */
  refusedClientIp?: string
  /** The gateway refused datain and the address it (or --client-ip) named is one datain will not open the firewall to. */
  untrustedClientIp?: {ip: string; problem: string}
}

export interface InitOptions {
  home: string
  profile: string
  flags: InitFlags
  /** `--force`: record over an existing profile's settings, and start over damaged state files. */
  force: boolean
  note(message: string): void
}

/** `datain init`: records the profile, then runs every preflight check. Changes nothing on any server. */
export async function runInit({home, profile, flags, force, note}: InitOptions): Promise<InitResult> {
  const store = openProfile(home, profile)
  // The lock needs the profile's folder: the folders it creates go again if init records nothing.
  const created = await missingFolders([...ancestors(path.resolve(home)), profilesDir(home), store.dir])
  const lock = await store.lock('init')
  if (lock.takenOver) note(`datain ${describeTakeOver(lock.takenOver)}.`)
  try {
    const damaged: Array<'settings' | 'checkpoint'> = []
    const existing = await readUnlessDamaged('settings', () => store.exists().then((e) => (e ? store.readSettings() : undefined)), force, damaged)
    const input = await settingsFromFlags(flags, existing?.createdAt ?? new Date().toISOString(), {
      armHost: async (target) => (await readArmServer({client: armClient(target), target})).server.fullyQualifiedDomainName,
    })
    const changes = existing ? settingsChanges(existing, input) : []
    if (existing && changes.length > 0 && !force) {
      throw new DatainError(
        `The profile '${profile}' exists and this init would change it:\n  ${changes.join('\n  ')}\n` +
          `Run again with --force to record the new settings, or use another --profile.`,
        {code: 'E_PROFILE_EXISTS', exit: ExitCode.usage},
      )
    }
    const sourcePassword = await requirePassword('DATAIN_SOURCE_PASSWORD', `the source user '${input.source.user}'`)
    const replicaPassword = await requirePassword('DATAIN_REPLICA_PASSWORD', `the replica user '${input.replica.user}'`)

    const planned = {...input, version: STATE_VERSION, updatedAt: input.createdAt} satisfies Settings
    const checkpoint = (await readUnlessDamaged('checkpoint', () => store.readCheckpoint(), force, damaged)) ?? {version: CHECKPOINT_VERSION, updatedAt: input.createdAt, steps: {}, stop: {}}
    // Connect before recording: settings that reach no server (a mistyped port) are not kept.
    const preflight = await openPreflight({
      settings: preflightSettings(planned),
      source: await sourceAddress(planned, sourcePassword),
      replica: await replicaAddress(planned, replicaPassword),
      azure: azureTarget(planned),
      own: ownWork(checkpoint),
      clientIp: planned.clientIp,
    })
    let checks: CheckResult[]
    let settings: Settings
    const recorded = !existing ? 'created' : changes.length > 0 ? 'updated' : 'unchanged'
    try {
      // Only now, with the flags valid and both servers reached: a failed init leaves the files as they were.
      for (const role of damaged) await setAsideDamaged(store, role, note)
      settings = await store.writeSettings(input)
      await store.journal('init', {recorded, changes})
      checks = await runChecks(PREFLIGHT_CHECKS, preflight)
    } finally {
      await preflight.close()
    }
    for (const warning of tlsWarnings(settings)) note(warning)
    const counts = countByStatus(checks)
    const passed = preflightPassed(checks)
    await store.journal('preflight', {passed, counts, failed: checks.filter((c) => c.status === 'fail').map((c) => c.id)})
    return {profile, recorded, settings, passed, counts, checks, refusedClientIp: preflight.refusedClientIp, untrustedClientIp: preflight.untrustedClientIp}
  } catch (error) {
    await lock.release()
    await removeEmptyFolders(created)
    throw error
  } finally {
    await lock.release()
  }
}

/** `dir` and the folders above it, the root first. */
function ancestors(dir: string): string[] {
  const parent = path.dirname(dir)
  return parent === dir ? [dir] : [...ancestors(parent), dir]
}

/** Those of `dirs` (a path and its parents) that do not exist yet. */
async function missingFolders(dirs: string[]): Promise<string[]> {
  const exists = await Promise.all(dirs.map((dir) => stat(dir).then(() => true, () => false)))
  return dirs.filter((_, i) => !exists[i])
}

/** Removes the folders a failed init created, deepest first; rmdir leaves one that something else wrote into. */
async function removeEmptyFolders(dirs: string[]): Promise<void> {
  for (const dir of [...dirs].reverse()) {
    if (!(await rmdir(dir).then(() => true, () => false))) return
  }
}

/**
 * Reads a state file; with `--force`, a damaged one (E_STATE_CORRUPT) counts as absent and is added
 * to `damaged`, to be set aside once init records. Without `--force` the damage is reported as it is.
 */
async function readUnlessDamaged<T>(
  role: 'settings' | 'checkpoint',
  read: () => Promise<T>,
  force: boolean,
  damaged: Array<'settings' | 'checkpoint'>,
): Promise<T | undefined> {
  try {
    return await read()
  } catch (error) {
    if (!force || !isDatainError(error) || error.code !== 'E_STATE_CORRUPT') throw error
    damaged.push(role)
    return undefined
  }
}

/** Moves a damaged file aside (kept for whoever wants to read it) and says what datain no longer knows. */
async function setAsideDamaged(store: ProfileStore, role: 'settings' | 'checkpoint', note: (message: string) => void): Promise<void> {
  const kept = await store.setAside(role)
  note(
    role === 'settings'
      ? `The profile's settings file was damaged; --force discards it (kept as ${kept}) and records the settings given now.`
      : `The profile's checkpoint was damaged; --force discards it (kept as ${kept}): datain no longer knows which setup steps ran, ` +
          "nor what they created (databases on the replica, the replication user, firewall rules), so 'datain start' begins again and preflight reports such leftovers as conflicts.",
  )
  await store.journal('state-discarded', {file: role, keptAs: kept})
}

