import {chmod, readdir, readFile, rename, rm, stat} from 'node:fs/promises'
import path from 'node:path'
import type {z} from 'zod'
import {writeFileDurably} from '../lib/durable-write.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {shown} from '../lib/validate.js'
import {appendJournal, readJournalFile} from './journal.js'
import {acquireLock, LOCK_FILE, type Lock} from './lock.js'
import type {ProfileStore} from './profile-store-api.js'
import {makeDirs} from './make-dirs.js'
import {assertOwnFolders} from './own-folders.js'
import {type RecordSection, type RecordUpdate, withProgress, withRecordMarked} from './checkpoint-records.js'
import {
  CHECKPOINT_MIGRATIONS,
  CHECKPOINT_VERSION,
  CheckpointSchema,
  describeIssues,
  isMissing,
  parseStateFile,
  SecretsSchema,
  SETTINGS_MIGRATIONS,
  SettingsSchema,
  STATE_VERSION,
  stateReadError,
  stateWriteError,
  type Checkpoint,
  type JournalEntry,
  type Secrets,
  type Settings,
  type SettingsInput,
  type StateFileContext,
  type VersionPolicy,
} from './schema.js'
import type {StepOutputs, StepRecordId, StopOutputs, StopRecordId} from './step-outputs.js'

/** The files of a profile folder, by role. */
export const PROFILE_FILES = {
  settings: 'settings.json',
  checkpoint: 'checkpoint.json',
  secrets: 'secrets.json',
  journal: 'journal.jsonl',
  lock: LOCK_FILE,
} as const

export type {ProfileStore, RecordUpdate, StepRecordUpdate} from './profile-store-api.js'

const PROFILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/

/** Throws E_PROFILE_NAME unless `name` is 1-64 letters, digits, `-`, `_`, `.`, not starting with `.`. */
export function assertProfileName(name: string): void {
  if (PROFILE_NAME.test(name)) return
  throw new DatainError(
    `${shown(name)} is not a valid profile name: use 1 to 64 letters, digits, "-", "_" or ".", not starting with ".".`,
    {code: 'E_PROFILE_NAME', exit: ExitCode.usage, suggestions: ['--profile prod-eu']},
  )
}

/** The folder that holds every profile under a DATAIN_HOME. */
export function profilesDir(home: string): string {
  return path.join(path.resolve(home), 'profiles')
}

/** Opens (without touching the disk) the store of profile `name` under `home` (DATAIN_HOME). */
export function openProfile(home: string, name: string): ProfileStore {
  assertProfileName(name)
  return new FileProfileStore(path.resolve(home), name)
}

/** The names of the profiles recorded under `home`, sorted; none when the folder does not exist. */
export async function listProfiles(home: string): Promise<string[]> {
  const dir = profilesDir(home)
  await assertOwnFolders([path.resolve(home), dir])
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

class FileProfileStore implements ProfileStore {
  readonly dir: string
  #prepared: Promise<void> | undefined
  #ownership: Promise<void> | undefined
  #lock: Lock | undefined
  // Serialises this process's checkpoint read-modify-writes; the lock keeps other processes out.
  #checkpointQueue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly home: string,
    readonly name: string,
  ) {
    this.dir = path.join(profilesDir(home), name)
  }

  async exists(): Promise<boolean> {
    try {
      return (await stat(this.#file('settings'))).isFile()
    } catch (error) {
      if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return false
      throw stateReadError(error, this.#file('settings'))
    }
  }

  async readSettings(): Promise<Settings> {
    const settings = await this.#read('settings', SettingsSchema, {migrations: SETTINGS_MIGRATIONS})
    if (settings) return settings
    throw new DatainError(
      `There is no profile "${this.name}" (looked in ${this.dir}). Record it first with \`datain init --profile ${this.name}\`.`,
      {code: 'E_PROFILE_NOT_FOUND', exit: ExitCode.usage, suggestions: [`datain init --profile ${this.name}`]},
    )
  }

  async writeSettings(input: SettingsInput): Promise<Settings> {
    const settings = validated(SettingsSchema, {...input, version: STATE_VERSION, updatedAt: now()}, 'settings')
    await this.#write('settings', settings)
    return settings
  }

  async readCheckpoint(): Promise<Checkpoint> {
    const checkpoint = await this.#read('checkpoint', CheckpointSchema, {migrations: CHECKPOINT_MIGRATIONS, current: CHECKPOINT_VERSION})
    return checkpoint ?? {version: CHECKPOINT_VERSION, updatedAt: now(), steps: {}, stop: {}}
  }

  resetCheckpoint(fingerprint: string): Promise<Checkpoint> {
    return this.#mutateCheckpoint('resetCheckpoint', async () => ({version: CHECKPOINT_VERSION, fingerprint, updatedAt: now(), steps: {}, stop: {}}))
  }

  markStep<K extends StepRecordId>(step: K, update: RecordUpdate<StepOutputs[K]>): Promise<Checkpoint> {
    return this.#mark('steps', step, update)
  }

  recordProgress<K extends StepRecordId>(step: K, output: Partial<StepOutputs[K]>): Promise<Checkpoint> {
    return this.#progress('steps', step, output)
  }

  markStop<K extends StopRecordId>(record: K, update: RecordUpdate<StopOutputs[K]>): Promise<Checkpoint> {
    return this.#mark('stop', record, update)
  }

  recordStopProgress<K extends StopRecordId>(record: K, output: Partial<StopOutputs[K]>): Promise<Checkpoint> {
    return this.#progress('stop', record, output)
  }

  #mark(section: RecordSection, id: string, update: RecordUpdate<Record<string, unknown>>): Promise<Checkpoint> {
    return this.#mutateCheckpoint('markStep', async () => {
      const checkpoint = await this.readCheckpoint()
      if (!checkpoint.fingerprint) throw new Error('bug: markStep before resetCheckpoint recorded a fingerprint')
      return withRecordMarked(checkpoint, section, id, update, now())
    })
  }

  #progress(section: RecordSection, id: string, output: Record<string, unknown>): Promise<Checkpoint> {
    return this.#mutateCheckpoint('recordProgress', async () => withProgress(await this.readCheckpoint(), section, id, output, now()))
  }

  async readSecrets(): Promise<Secrets | undefined> {
    return this.#read('secrets', SecretsSchema)
  }

  async writeSecrets(secrets: Secrets): Promise<void> {
    // Never put the value in the message of a bug.
    if (!SecretsSchema.safeParse(secrets).success) throw new Error('bug: writeSecrets needs a non-empty replicationPassword')
    await this.#write('secrets', secrets)
  }

  async journal(event: string, details?: Record<string, unknown>): Promise<void> {
    await this.#prepare()
    await appendJournal(this.#file('journal'), event, details)
  }

  readJournal(): Promise<JournalEntry[]> {
    return readJournalFile(this.#file('journal'), this.#context('journal'))
  }

  async lock(command?: string): Promise<Lock> {
    await this.#prepare()
    const lock = await acquireLock(this.dir, {command, profile: this.name})
    this.#lock = lock
    return lock
  }

  /**
   * Renames a damaged state file to `<name>.damaged-<time>` (owner-only, like the original), so that
   * `init --force` can start it over without destroying what a person may still want to read.
   * Returns the new path. Needs the lock.
   */
  async setAside(role: 'settings' | 'checkpoint'): Promise<string> {
    if (!this.#lock?.held) throw new Error(`bug: setAside on profile "${this.name}" without holding its lock`)
    const file = this.#file(role)
    const kept = `${file}.damaged-${now().replaceAll(':', '-')}`
    try {
      await rename(file, kept)
    } catch (error) {
      throw stateWriteError(error, kept)
    }
    return kept
  }

  async remove(): Promise<void> {
    try {
      await rm(this.dir, {recursive: true, force: true})
    } catch (error) {
      throw stateWriteError(error, this.dir)
    }

    this.#prepared = undefined
  }

  #file(role: keyof typeof PROFILE_FILES): string {
    return path.join(this.dir, PROFILE_FILES[role])
  }

  #context(role: keyof typeof PROFILE_FILES): StateFileContext {
    return {file: this.#file(role), profile: this.name}
  }

  /** The validated content, or `undefined` when the file does not exist. */
  async #read<T extends z.ZodType>(
    role: keyof typeof PROFILE_FILES,
    schema: T,
    versions?: VersionPolicy,
  ): Promise<z.infer<T> | undefined> {
    await this.#trusted()
    const file = this.#file(role)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (error) {
      if (isMissing(error)) return undefined
      throw stateReadError(error, file)
    }
    return parseStateFile(schema, text, this.#context(role), versions)
  }

  async #write(role: keyof typeof PROFILE_FILES, data: unknown): Promise<void> {
    await this.#prepare()
    const file = this.#file(role)
    try {
      await writeFileDurably(file, `${JSON.stringify(data, null, 2)}\n`)
    } catch (error) {
      throw stateWriteError(error, file)
    }
  }

  #mutateCheckpoint(operation: string, change: () => Promise<Checkpoint>): Promise<Checkpoint> {
    if (!this.#lock?.held) {
      return Promise.reject(new Error(`bug: ${operation} on profile "${this.name}" without holding its lock`))
    }

    const run = this.#checkpointQueue.then(async () => {
      const checkpoint = validated(CheckpointSchema, await change(), 'checkpoint')
      await this.#write('checkpoint', checkpoint)
      return checkpoint
    })
    this.#checkpointQueue = run.catch(() => {
      // The caller gets the failure from `run`; the queue only orders the next write.
    })
    return run
  }

  /** Once per store: DATAIN_HOME and the profile's folders, where they exist, are the user's own (E_STATE_NOT_OWN). */
  #trusted(): Promise<void> {
    this.#ownership ??= assertOwnFolders([this.home, profilesDir(this.home), this.dir])
    return this.#ownership
  }

  /** Creates `<home>/profiles/<name>/` if needed and (re)asserts mode 0700 on the last two folders. */
  #prepare(): Promise<void> {
    this.#prepared ??= (async () => {
      await this.#trusted()
      try {
        await makeDirs(this.dir)
        await chmod(profilesDir(this.home), 0o700)
        await chmod(this.dir, 0o700)
      } catch (error) {
        throw stateWriteError(error, this.dir)
      }
    })().catch((error: unknown) => {
      this.#prepared = undefined
      throw error
    })
    return this.#prepared
  }
}

function validated<T extends z.ZodType>(schema: T, data: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(data)
  if (!result.success) throw new Error(`bug: refusing to write invalid ${what}: ${describeIssues(result.error)}`)
  return result.data
}

function now(): string {
  return new Date().toISOString()
}
