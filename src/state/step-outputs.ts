import {z} from 'zod'

/**
 * The outputs that the setup steps and `datain stop` keep in the checkpoint, one schema per record
 * id, parsed once when the checkpoint is read so that every reader gets a typed object.
 *
 * An output is a loose object: a key this datain does not know (written by a later one, or a step's
 * own sub-record such as the parallel copy's `copy`) is kept as it is, never dropped on the next
 * write. The values inside are plain objects of a known shape.
 * A field is optional where a checkpoint written by an earlier datain may lack it; readers give the
 * fallback there, in one place each.
 */

const nonEmpty = z.string().min(1)

/** How the replica follows the source: by GTID, or by binlog file and position. */
export const ReplicationModeSchema = z.enum(['gtid', 'file'])

/** A server parameter datain looked at on the replica, and whether it changed it (so that a cleanup can put it back). */
export const ParameterChangeSchema = z.object({
  name: z.string(),
  /** The value before datain looked; null when the server reported none. */
  previous: z.string().nullable(),
  value: z.string(),
  changedByDatain: z.boolean(),
})

/** A range datain gave one of its firewall rules. */
export const RuleRangeSchema = z.object({name: z.string(), startIpAddress: z.string(), endIpAddress: z.string()})

const parametersChanged = z.array(ParameterChangeSchema)

export const PreflightOutputSchema = z.looseObject({
  passed: z.number(),
  warnings: z.array(z.string()),
  /** Results by outcome, as init counts them; absent in checkpoints of older datain. */
  counts: z.object({pass: z.number(), warn: z.number(), fail: z.number(), 'not-run': z.number(), 'not-applicable': z.number()}).optional(),
  /** The client's rule, added when the gateway refused datain before the firewall step. */
  createdRules: z.array(z.string()).optional(),
  createdRanges: z.array(RuleRangeSchema).optional(),
})

export const BinlogOutputSchema = z.looseObject({
  logBin: z.boolean(),
  binlogFormat: z.string(),
  serverId: z.number(),
  /** Null while the replica's firewall refused this machine. */
  replicaServerId: z.number().nullable(),
})

export const ReplicationUserOutputSchema = z.looseObject({
  user: z.string(),
  host: z.string(),
  /** True once CREATE USER succeeded (or the account was found datain's). */
  created: z.boolean(),
  requireSsl: z.boolean(),
  action: z.enum(['created', 'repaired', 'unchanged']),
  /** Recorded just before CREATE USER: a crash right after leaves an account that is datain's. */
  creating: z.boolean().optional(),
  /** The fingerprint of the hash the account gets (older markers have none). */
  accountHash: z.unknown().optional(),
})

export const FirewallOutputSchema = z.looseObject({
  sourceIp: z.string(),
  clientIp: z.string().nullable(),
  createdRules: z.array(z.string()),
  createdRanges: z.array(RuleRangeSchema).optional(),
  reusedRules: z.array(z.string()).optional(),
  managed: z.boolean().optional(),
  /** The target has no firewall datain manages (a replica the DBA administers). */
  notApplicable: z.boolean().optional(),
})

export const SnapshotOutputSchema = z.looseObject({
  databases: z.array(z.string()),
  /** Those datain created (or replaced) on the replica: the only ones a rerun drops. */
  createdDatabases: z.array(z.string()),
  binlogFile: z.string(),
  binlogPosition: z.number(),
  /** Empty when the source wrote no GTID (file/position mode only). */
  gtidPosition: z.string(),
  bytes: z.number(),
  rows: z.number(),
  seconds: z.number(),
  parametersChanged: parametersChanged.optional(),
  engine: z.enum(['parallel', 'stream']).optional(),
  threads: z.number().optional(),
  snapshotMethod: z.string().optional(),
  writesHeldMs: z.number().optional(),
  resumed: z.object({keptChunks: z.number(), keptRows: z.number(), reloadedChunks: z.number()}).optional(),
  definersRemoved: z.number().optional(),
  eventsDisabledOnSlave: z.number().optional(),
  /** The parallel copy's record of its tables: checked by the copy itself on resume. */
  copy: z.unknown().optional(),
})

export const LinkOutputSchema = z.looseObject({
  procedureSchema: z.string(),
  mode: ReplicationModeSchema,
  gtidPosition: z.string().optional(),
  binlogFile: z.string().optional(),
  binlogPosition: z.number().optional(),
  sourceHost: z.string(),
  sourcePort: z.number(),
  sourceUser: z.string(),
  tls: z.boolean(),
  filter: z.object({parameter: z.string(), value: z.string(), ignored: z.array(z.string())}).optional(),
  parametersChanged: parametersChanged.optional(),
  action: z.enum(['linked', 'kept', 'running']).optional(),
})

const SourcePositionSchema = z.object({gtid: z.string(), file: z.string(), position: z.number()})

export const ReplicateOutputSchema = z.looseObject({
  mode: ReplicationModeSchema,
  startedAt: z.string(),
  caughtUpAt: z.string(),
  alreadyRunning: z.boolean(),
  gtidPosition: z.string().optional(),
  binlogFile: z.string().optional(),
  binlogPosition: z.number().optional(),
  sourcePosition: SourcePositionSchema.optional(),
  parametersChanged: parametersChanged.optional(),
  /** Set by `datain stop` when it stopped replication or removed the link. */
  stoppedAt: z.string().optional(),
})

/** Where the replica had applied the source's binlog up to when replication stopped. */
export const ReplicaPositionSchema = z.object({
  mode: ReplicationModeSchema,
  /** `@@gtid_slave_pos`: the last GTID applied, per domain. */
  gtid: z.string(),
  /** The source's binlog coordinates of the last transaction applied. */
  file: z.string(),
  position: z.number(),
})

/** The `replication-password` record: which password the account got, as a fingerprint, never the password. */
export const PasswordRecordSchema = z.looseObject({
  fingerprint: z.object({algorithm: z.literal('scrypt-n16384-r8-p1'), salt: z.string(), hash: z.string()}),
  origin: z.string(),
  givenAt: z.string(),
})

/** The setup steps' outputs, by step id (persisted: never rename one). */
export const STEP_OUTPUT_SCHEMAS = {
  preflight: PreflightOutputSchema,
  binlog: BinlogOutputSchema,
  'replication-user': ReplicationUserOutputSchema,
  firewall: FirewallOutputSchema,
  snapshot: SnapshotOutputSchema,
  link: LinkOutputSchema,
  replicate: ReplicateOutputSchema,
  'replication-password': PasswordRecordSchema,
} as const

/** The `removed` record: the link was removed, the replica stands alone. */
export const RemovedOutputSchema = z.looseObject({
  removedAt: nonEmpty,
  /** `cutover`: removed once the replica had applied everything the source wrote (`stop --cutover`). */
  via: z.enum(['remove', 'cutover']),
  /** False when the setup had not linked the replica yet: there was nothing to remove. */
  linked: z.boolean(),
  position: ReplicaPositionSchema.nullable(),
  /** What the cutover did (final position, how long the source was read-only, events enabled). */
  cutover: z.looseObject({eventsEnabled: z.array(z.string()).optional(), eventScheduler: z.string().optional()}).optional(),
})

/** The `source-read-only` record: datain's own `read_only = ON` on the source, written before the SET. */
export const SourceLockOutputSchema = z.looseObject({
  /** read_only before datain set it: datain sets it only when it was OFF. */
  previous: z.literal('OFF'),
  /** `locking`: about to SET (or just did); `locked`: read-only; `removing`: the link is being removed. */
  phase: z.enum(['locking', 'locked', 'removing']),
  at: z.string(),
  /** Once settled: `kept` after a completed cutover (on purpose), `restored` when put back to OFF. */
  outcome: z.enum(['kept', 'restored']).optional(),
  settledAt: z.string().optional(),
})

/** `datain stop --cleanup`'s record: what it removed; its parts are shaped by the cleanup. */
export const CleanupOutputSchema = z.looseObject({})

/** `datain stop`'s records, by id (persisted: never rename one). */
export const STOP_OUTPUT_SCHEMAS = {
  removed: RemovedOutputSchema,
  cleanup: CleanupOutputSchema,
  'source-read-only': SourceLockOutputSchema,
} as const

export type StepOutputs = {[K in keyof typeof STEP_OUTPUT_SCHEMAS]: z.infer<(typeof STEP_OUTPUT_SCHEMAS)[K]>}
export type StopOutputs = {[K in keyof typeof STOP_OUTPUT_SCHEMAS]: z.infer<(typeof STOP_OUTPUT_SCHEMAS)[K]>}
export type StepRecordId = keyof StepOutputs
export type StopRecordId = keyof StopOutputs

export type ParameterChange = z.infer<typeof ParameterChangeSchema>
export type RuleRange = z.infer<typeof RuleRangeSchema>
export type ReplicaPosition = z.infer<typeof ReplicaPositionSchema>
export type PreflightOutput = StepOutputs['preflight']
export type BinlogOutput = StepOutputs['binlog']
export type ReplicationUserOutput = StepOutputs['replication-user']
export type FirewallOutput = StepOutputs['firewall']
export type SnapshotOutput = StepOutputs['snapshot']
export type LinkOutput = StepOutputs['link']
export type ReplicateOutput = StepOutputs['replicate']
export type PasswordRecord = StepOutputs['replication-password']
export type RemovedOutput = StopOutputs['removed']
export type SourceLockOutput = StopOutputs['source-read-only']
