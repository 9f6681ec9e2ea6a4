import {chmod, readFile, rename, rm, stat} from 'node:fs/promises'
import path from 'node:path'
import type {z} from 'zod'
import {writeFileDurably} from '../lib/durable-write.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {appendJournal, readJournalFile} from './journal.js'
import {acquireLock, type Lock} from './lock.js'
import {makeDirs, PROFILE_FILES, profilesDir} from './profile-folder.js'
import type {ProfileStore, StepRecordUpdate} from './profile-store.js'
import {
  CHECKPOINT_MIGRATIONS,
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
  type StepRecord,
  type VersionPolicy,
} from './schema.js'

/** The {@link ProfileStore} of one profile folder on disk; openProfile (profile-store.ts) opens it. */
export class FileProfileStore implements ProfileStore {
  readonly dir: string
  #prepared: Promise<void> | undefined
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
    const checkpoint = await this.#read('checkpoint', CheckpointSchema, {migrations: CHECKPOINT_MIGRATIONS})
    return checkpoint ?? {version: STATE_VERSION, updatedAt: now(), steps: {}}
  }

  resetCheckpoint(fingerprint: string): Promise<Checkpoint> {
    return this.#mutateCheckpoint('resetCheckpoint', async () => ({version: STATE_VERSION, fingerprint, updatedAt: now(), steps: {}}))
  }

  markStep(step: string, update: StepRecordUpdate): Promise<Checkpoint> {
    return this.#mutateCheckpoint('markStep', async () => {
      const checkpoint = await this.readCheckpoint()
      if (!checkpoint.fingerprint) throw new Error('bug: markStep before resetCheckpoint recorded a fingerprint')
      const at = now()
      const previous = checkpoint.steps[step]
      const record: StepRecord =
        update.state === 'running'
          ? {state: 'running', startedAt: at}
          : {state: update.state, startedAt: previous?.startedAt ?? at, finishedAt: at}
      if (update.output !== undefined) record.output = update.output
      if (update.error !== undefined) record.error = update.error
      return {...checkpoint, updatedAt: at, steps: {...checkpoint.steps, [step]: record}}
    })
  }

  recordProgress(step: string, output: Record<string, unknown>): Promise<Checkpoint> {
    return this.#mutateCheckpoint('recordProgress', async () => {
      const checkpoint = await this.readCheckpoint()
      const record = checkpoint.steps[step]
      if (record?.state !== 'running') throw new Error(`bug: recordProgress on step ${step}, which is not running`)
      const updated: StepRecord = {...record, output: {...record.output, ...output}}
      return {...checkpoint, updatedAt: now(), steps: {...checkpoint.steps, [step]: updated}}
    })
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

  /** Creates `<home>/profiles/<name>/` if needed and (re)asserts mode 0700 on the last two folders. */
  #prepare(): Promise<void> {
    this.#prepared ??= (async () => {
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
