import {z} from 'zod'
import {DatainError, ExitCode} from '../lib/errors.js'
import {checkpointV1toV2} from './checkpoint-schema.js'

export {CHECKPOINT_VERSION, CheckpointSchema, StepStateSchema} from './checkpoint-schema.js'
export type {Checkpoint, RecordOf, StepRecord, StepRecords, StepState, StopRecords} from './checkpoint-schema.js'

/** How the replica follows the source: by GTID, or by binlog file and position. */
export type ReplicationMode = 'gtid' | 'file'

/**
 * The version of the settings that this datain writes (the checkpoint has its own,
 * CHECKPOINT_VERSION). Bump it when the file's shape changes, and add the step from the previous
 * version to {@link SETTINGS_MIGRATIONS}, so that a profile written by an older datain still loads.
 */
export const STATE_VERSION = 1

const isoTime = z.iso.datetime({offset: true})
const port = z.int().min(1).max(65_535)
const nonEmpty = z.string().min(1)

/**
 * `settings.json`: what `datain init` recorded. Never a password. Strict, so that a hand-edited key
 * with a typo (`sslca` for `sslCa`) is reported instead of silently ignored.
 */
const SettingsShape = z.strictObject({
  version: z.literal(STATE_VERSION),
  createdAt: isoTime,
  updatedAt: isoTime,
  source: z.strictObject({
    host: nonEmpty,
    port,
    user: nonEmpty,
    /** The address the replica uses to reach the source. */
    publicHost: nonEmpty,
    /** The source's IP for the replica's firewall rule. */
    ip: nonEmpty.optional(),
    /**
     * `on`: datain's connection is TLS, verified against `sslCa` or the system's CAs. `off` only by an
     * explicit `--source-ssl off`. Absent in profiles written before TLS became the default: on.
     */
    ssl: z.enum(['on', 'off']).default('on'),
    /** Path of the CA file the replica is given as `master_ssl_ca`. */
    sslCa: nonEmpty.optional(),
  }),
  replica: z.strictObject({
    host: nonEmpty,
    port,
    user: nonEmpty,
    /**
     * `on`: datain's connection is TLS (verified unless `tlsVerify` is false). `off` only by an
     * explicit `--replica-ssl off`, on a replica the DBA administers. Absent in older profiles: on.
     */
    ssl: z.enum(['on', 'off']).default('on'),
    sslCa: nonEmpty.optional(),
    tlsVerify: z.boolean(),
    /** `--link-ssl-ca` (target mariadb): the source's CA as a file on the replica's host, its MASTER_SSL_CA. */
    linkSslCa: nonEmpty.optional(),
  }),
  azure: z.strictObject({
    subscription: nonEmpty.optional(),
    resourceGroup: nonEmpty.optional(),
    server: nonEmpty.optional(),
    armEndpoint: nonEmpty.optional(),
    useArm: z.boolean(),
    manageFirewall: z.boolean(),
  }),
  clientIp: nonEmpty.optional(),
  /** The replica's kind (targets/): a managed Azure replica, or a MariaDB server the DBA administers. Absent in older profiles: Azure. */
  target: z.enum(['azure-mariadb', 'mariadb']).default('azure-mariadb'),
  /** Empty means every database but the system ones. */
  databases: z.array(nonEmpty),
  gtid: z.boolean(),
  replicationUser: nonEmpty,
  /** `init --unfiltered-subset`: copy a subset that no replica filter protects, knowing a write elsewhere stops replication. */
  unfilteredSubset: z.boolean().default(false),
})

/**
 * Profiles written before the dangerous choices became per-run flags hold `force`. It is dropped
 * unread: a profile must never grant, for every later run, the right to drop databases or take
 * over a replica (`datain start --replace-databases` / `--take-over-replica` ask for it each time).
 */
export const SettingsSchema = z.preprocess((data) => {
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !('force' in data)) return data
  const {force: _ignored, ...rest} = data as Record<string, unknown>
  return rest
}, SettingsShape)
export type Settings = z.infer<typeof SettingsSchema>
/** What a caller hands to `writeSettings`: the store stamps `version` and `updatedAt`. */
export type SettingsInput = Omit<Settings, 'version' | 'updatedAt'>

/** `secrets.json`: the generated replication password, so that a resumed run can use it. */
export const SecretsSchema = z.strictObject({
  replicationPassword: nonEmpty,
})
export type Secrets = z.infer<typeof SecretsSchema>

/** One line of `journal.jsonl`; the details vary with the event. */
export const JournalEntrySchema = z.looseObject({
  at: isoTime,
  pid: z.int(),
  event: nonEmpty,
})
export type JournalEntry = z.infer<typeof JournalEntrySchema>

/** Turns the object of version `from` into the one of version `from + 1`, before validation. */
export type Migration = (data: Record<string, unknown>) => Record<string, unknown>

/**
 * Keyed by the version migrated from, e.g. `1: (v1) => ({...v1, version: 2, newField: defaultValue})`.
 * Settings are all version 1; checkpoints of version 1 kept `datain stop`'s records among the steps'.
 */
export const SETTINGS_MIGRATIONS: Readonly<Record<number, Migration>> = {}
export const CHECKPOINT_MIGRATIONS: Readonly<Record<number, Migration>> = {1: checkpointV1toV2}

/** `lock`: who holds the profile. `token` tells our own lock from a later one with a reused pid. */
export const LockInfoSchema = z.strictObject({
  // Positive only: `process.kill(0 or -n, 0)` would probe a whole process group.
  pid: z.int().positive(),
  startedAt: isoTime,
  hostname: z.string(),
  command: z.string(),
  token: nonEmpty,
  // Optional: a lock of an older datain has none, and is judged by its hostname.
  /** The kernel's boot id: with the pid namespace, whether `pid` can be probed from here. */
  bootId: nonEmpty.optional(),
  pidNamespace: nonEmpty.optional(),
  /** Field 22 of /proc/<pid>/stat, so that a reused pid is not taken for the holder. */
  processStart: nonEmpty.optional(),
})
export type LockInfo = z.infer<typeof LockInfoSchema>

/** Where a state error came from, for its message. */
export interface StateFileContext {
  file: string
  profile: string
}

/**
 * E_STATE_CORRUPT: a state file that is not JSON (truncated, overwritten) or not of the expected
 * shape (hand-edited). Names the file, what is wrong, and the two ways out.
 */
export function stateCorrupt({file, profile}: StateFileContext, problem: string): DatainError {
  return new DatainError(
    `The state file ${file} of profile "${profile}" is damaged: ${problem}. datain will not guess what it ` +
      'should contain: restore the file (from a backup, or undo the hand edit), or record the settings again ' +
      'with `datain init --force`, which replaces damaged settings and sets a damaged checkpoint aside ' +
      '(kept next to it as a .damaged copy; nothing is changed on the servers).',
    {
      code: 'E_STATE_CORRUPT',
      exit: ExitCode.failed,
      suggestions: [`Restore ${file}`, `datain init --profile ${profile} --force`],
    },
  )
}

/** `path.to.key: message` for the first few zod issues: enough to find the line to fix. */
export function describeIssues(error: z.ZodError, max = 3): string {
  const shown = error.issues.slice(0, max).map((issue) => {
    const where = issue.path.map(String).join('.')
    return where ? `${where}: ${issue.message}` : issue.message
  })
  const more = error.issues.length - shown.length
  return shown.join('; ') + (more > 0 ? ` (and ${more} more)` : '')
}

/** How a versioned file is brought up to date before validation. */
export interface VersionPolicy {
  migrations: Readonly<Record<number, Migration>>
  /** Defaults to {@link STATE_VERSION}; tests pass a later one to exercise a migration. */
  current?: number
}

/**
 * Parses a state file's text: JSON, then version (newer → E_PROFILE_VERSION, older → migrated step
 * by step), then the schema. Every failure is a DatainError naming the file; never a raw SyntaxError.
 */
export function parseStateFile<T extends z.ZodType>(
  schema: T,
  text: string,
  context: StateFileContext,
  versions?: VersionPolicy,
): z.infer<T> {
  if (text.trim() === '') throw stateCorrupt(context, 'the file is empty')
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    throw stateCorrupt(context, `it is not valid JSON, perhaps truncated (${(error as Error).message})`)
  }

  if (versions) data = upgrade(data, context, versions)
  const result = schema.safeParse(data)
  if (!result.success) throw stateCorrupt(context, describeIssues(result.error))
  return result.data
}

function upgrade(data: unknown, context: StateFileContext, {migrations, current = STATE_VERSION}: VersionPolicy): unknown {
  // Anything without an integer version is left to the schema, which reports it precisely.
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return data
  let record = data as Record<string, unknown>
  if (typeof record.version !== 'number' || !Number.isInteger(record.version)) return data
  let version: number = record.version
  if (version > current) {
    throw new DatainError(
      `The state file ${context.file} of profile "${context.profile}" was written by a newer datain ` +
        `(state version ${version}; this datain reads up to version ${current}). Upgrade datain to use this ` +
        'profile; an older datain must not rewrite it.',
      {code: 'E_PROFILE_VERSION', exit: ExitCode.usage, suggestions: ['npm install -g datain@latest']},
    )
  }

  while (version < current) {
    const migrate = migrations[version]
    if (!migrate) throw stateCorrupt(context, `version ${version} is not a version datain ever wrote`)
    record = migrate(record)
    if (record.version !== version + 1) throw new Error(`bug: migration from state version ${version} did not set version ${version + 1}`)
    version += 1
  }

  return record
}

const FS_FAILURES: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EFBIG: 'the file would exceed the file size limit',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'the operation is not permitted',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a file is in the way of a folder',
  EISDIR: 'a folder is in the way of the file',
  ENOENT: 'a folder on the path does not exist or cannot hold files',
  EIO: 'an I/O error occurred',
}

function errnoOf(error: unknown): NodeJS.ErrnoException | undefined {
  if (error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string') return error as NodeJS.ErrnoException
  return undefined
}

/**
 * Turns a file system error met while writing state into E_STATE_WRITE naming the path; returns any
 * other error unchanged (a bug), so callers write `throw stateWriteError(error, file)`.
 */
export function stateWriteError(error: unknown, target: string): unknown {
  const errno = errnoOf(error)
  if (!errno?.code || error instanceof DatainError) return error
  const reason = FS_FAILURES[errno.code] ?? errno.message
  const where = errno.path && errno.path !== target ? ` on ${errno.path}` : ''
  return new DatainError(
    `datain cannot write its state to ${target}: ${reason} (${errno.code}${where}). Files already there are ` +
      'left as they were. Make room or fix the permissions, or point DATAIN_HOME at a writable folder, and run ' +
      'the command again.',
    {
      code: 'E_STATE_WRITE',
      exit: ExitCode.failed,
      suggestions: ['Free disk space or fix the folder\'s permissions', 'Set DATAIN_HOME to a writable folder'],
      cause: error,
    },
  )
}

/**
 * Same as {@link stateWriteError} for reads (E_STATE_READ). A missing file is not an error here: each
 * reader decides what absence means, so callers test `isMissing` first.
 */
export function stateReadError(error: unknown, target: string): unknown {
  const errno = errnoOf(error)
  if (!errno?.code || error instanceof DatainError) return error
  const reason = FS_FAILURES[errno.code] ?? errno.message
  return new DatainError(`datain cannot read its state file ${target}: ${reason} (${errno.code}).`, {
    code: 'E_STATE_READ',
    exit: ExitCode.failed,
    suggestions: [`Check the permissions of ${target} and its folder`],
    cause: error,
  })
}

/** True for ENOENT: the file (or its folder) does not exist. */
export function isMissing(error: unknown): boolean {
  return errnoOf(error)?.code === 'ENOENT'
}
