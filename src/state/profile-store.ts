import {readdir} from 'node:fs/promises'
import path from 'node:path'
import {FileProfileStore} from './file-profile-store.js'
import type {Lock} from './lock.js'
import {assertProfileName, PROFILE_NAME, profilesDir} from './profile-folder.js'
import {
  isMissing,
  stateReadError,
  type Checkpoint,
  type JournalEntry,
  type Secrets,
  type Settings,
  type SettingsInput,
  type StepState,
} from './schema.js'

/** What {@link ProfileStore.markStep} records; times are stamped by the store. */
export interface StepRecordUpdate {
  state: StepState
  /** JSON only: what later steps need from this one. */
  output?: Record<string, unknown>
  error?: {code: string; message: string}
}

/**
 * The state of one profile, in `<home>/profiles/<name>/`: settings, checkpoint, the generated
 * replication password and the journal. Every file is written atomically (temp file written in
 * full, fsync, rename, folder fsync) with mode 0600 in folders of mode 0700; every read is validated, and a damaged file is
 * E_STATE_CORRUPT naming it.
 */
export interface ProfileStore {
  readonly name: string
  /** The profile folder. */
  readonly dir: string
  /** Whether the profile has been recorded (its settings file exists). */
  exists(): Promise<boolean>
  /** E_PROFILE_NOT_FOUND when the profile was never recorded. */
  readSettings(): Promise<Settings>
  /** Stamps `version` and `updatedAt`; returns what was written. */
  writeSettings(settings: SettingsInput): Promise<Settings>
  /** An empty checkpoint (no fingerprint, no steps) when none was written yet. */
  readCheckpoint(): Promise<Checkpoint>
  /**
   * Starts the checkpoint over for a run against the servers `fingerprint` identifies: no step done.
   * Needs the lock.
   */
  resetCheckpoint(fingerprint: string): Promise<Checkpoint>
  /**
   * Records a step's state: `running` starts it afresh (startedAt now, no output or error); the other
   * states finish it (finishedAt now). Read-modify-write under the lock, which this store must hold
   * (see {@link ProfileStore.lock}); the checkpoint must have a fingerprint (see resetCheckpoint).
   */
  markStep(step: string, update: StepRecordUpdate): Promise<Checkpoint>
  /**
   * Merges `output` into a running step's output, keeping its state and start time: what a step must
   * know after a crash in its middle (e.g. the databases a copy created) is written as it happens.
   */
  recordProgress(step: string, output: Record<string, unknown>): Promise<Checkpoint>
  /** `undefined` when no password was stored. */
  readSecrets(): Promise<Secrets | undefined>
  writeSecrets(secrets: Secrets): Promise<void>
  /** Appends an event to the journal; values of keys like password/secret/token are stored as `***`. */
  journal(event: string, details?: Record<string, unknown>): Promise<void>
  readJournal(): Promise<JournalEntry[]>
  /**
   * Takes the profile's lock (creating the profile folder if needed): E_LOCKED when another datain
   * holds it. `command` is shown to whoever finds the profile locked.
   */
  lock(command?: string): Promise<Lock>
  /** Moves a damaged settings or checkpoint file aside (`.damaged-<time>`); returns where. Take the lock first. */
  setAside(role: 'settings' | 'checkpoint'): Promise<string>
  /** Deletes the profile folder and everything in it. Take the lock first. */
  remove(): Promise<void>
}

/** Opens (without touching the disk) the store of profile `name` under `home` (DATAIN_HOME). */
export function openProfile(home: string, name: string): ProfileStore {
  assertProfileName(name)
  return new FileProfileStore(path.resolve(home), name)
}

/** The names of the profiles recorded under `home`, sorted; none when the folder does not exist. */
export async function listProfiles(home: string): Promise<string[]> {
  const dir = profilesDir(home)
  let entries
  try {
    entries = await readdir(dir, {withFileTypes: true})
  } catch (error) {
    if (isMissing(error)) return []
    throw stateReadError(error, dir)
  }

  const names = entries.filter((entry) => entry.isDirectory() && PROFILE_NAME.test(entry.name)).map((entry) => entry.name)
  const recorded = await Promise.all(names.map((name) => openProfile(home, name).exists()))
  return names.filter((_, index) => recorded[index]).sort()
}
