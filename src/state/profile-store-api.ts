import type {Lock} from './lock.js'
import type {RecordUpdate} from './checkpoint-records.js'
import type {Checkpoint, JournalEntry, Secrets, Settings, SettingsInput} from './schema.js'
import type {StepOutputs, StepRecordId, StopOutputs, StopRecordId} from './step-outputs.js'

export type {RecordUpdate}
export type StepRecordUpdate<K extends StepRecordId = StepRecordId> = RecordUpdate<StepOutputs[K]>

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
  markStep<K extends StepRecordId>(step: K, update: RecordUpdate<StepOutputs[K]>): Promise<Checkpoint>
  /**
   * Merges `output` into a running step's output, keeping its state and start time: what a step must
   * know after a crash in its middle (e.g. the databases a copy created) is written as it happens.
   */
  recordProgress<K extends StepRecordId>(step: K, output: Partial<StepOutputs[K]>): Promise<Checkpoint>
  /** {@link ProfileStore.markStep} for a record of `datain stop`, in the checkpoint's `stop` section. */
  markStop<K extends StopRecordId>(record: K, update: RecordUpdate<StopOutputs[K]>): Promise<Checkpoint>
  /** {@link ProfileStore.recordProgress} for a record of `datain stop`. */
  recordStopProgress<K extends StopRecordId>(record: K, output: Partial<StopOutputs[K]>): Promise<Checkpoint>
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
