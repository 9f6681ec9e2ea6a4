import {z} from 'zod'
import {STEP_OUTPUT_SCHEMAS, STOP_OUTPUT_SCHEMAS, type StepOutputs, type StopOutputs} from './step-outputs.js'

/**
 * The version of `checkpoint.json` this datain writes. 2 moved `datain stop`'s records out of
 * `steps` into a `stop` section of their own; a version 1 checkpoint is migrated when read.
 */
export const CHECKPOINT_VERSION = 2

const isoTime = z.iso.datetime({offset: true})
const nonEmpty = z.string().min(1)

export const StepStateSchema = z.enum(['running', 'done', 'failed', 'interrupted'])
export type StepState = z.infer<typeof StepStateSchema>

const StepErrorSchema = z.strictObject({code: z.string(), message: z.string()})
const times = {startedAt: isoTime, finishedAt: isoTime.optional(), error: StepErrorSchema.optional()}

/** A record of an id this datain does not know: kept as it is. */
const AnyRecordSchema = z.strictObject({state: StepStateSchema, ...times, output: z.record(z.string(), z.unknown()).optional()})

/**
 * A record whose output is `output` once done, and what the step recorded through `progress` so far
 * (any part of it) while it runs or after it failed or was interrupted. The state is checked first,
 * on its own, so that a hand-edited state is named as such.
 */
function recordOf<T extends z.ZodObject>(output: T) {
  const partial = output.partial()
  return AnyRecordSchema.transform((record, ctx) => {
    if (record.output === undefined) return record
    const parsed = (record.state === 'done' ? output : partial).safeParse(record.output)
    if (parsed.success) return {...record, output: parsed.data}
    for (const issue of parsed.error.issues) ctx.addIssue({code: 'custom', message: issue.message, path: ['output', ...issue.path]})
    return z.NEVER
  })
}

type RecordShapes<S extends Record<string, z.ZodObject>> = {[K in keyof S]: z.ZodOptional<ReturnType<typeof recordOf<S[K]>>>}

function recordsOf<S extends Record<string, z.ZodObject>>(schemas: S): RecordShapes<S> {
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, recordOf(schema).optional()])) as RecordShapes<S>
}

/** A done record's output is the step's whole output; an unfinished one's is what it recorded so far. */
export type RecordOf<O> = {startedAt: string; finishedAt?: string; error?: {code: string; message: string}} & (
  | {state: 'done'; output?: O}
  | {state: 'running' | 'failed' | 'interrupted'; output?: Partial<O>}
)

export type StepRecords = {[K in keyof StepOutputs]?: RecordOf<StepOutputs[K]>}
export type StopRecords = {[K in keyof StopOutputs]?: RecordOf<StopOutputs[K]>}
/** Any record, as the store writes it. */
export type StepRecord = RecordOf<Record<string, unknown>>

/** `checkpoint.json`: where the setup stands, step by step, and what `datain stop` did. */
export interface Checkpoint {
  version: typeof CHECKPOINT_VERSION
  /**
   * Hash of the settings that identify the servers (hosts, ports, Azure server, databases, mode),
   * so that a resume against other servers is refused. Absent only before the first run.
   */
  fingerprint?: string
  updatedAt: string
  steps: StepRecords
  stop: StopRecords
}

export const CheckpointSchema: z.ZodType<Checkpoint> = z.strictObject({
  version: z.literal(CHECKPOINT_VERSION),
  fingerprint: nonEmpty.optional(),
  updatedAt: isoTime,
  // A record of an id this datain does not know is kept (catchall), not refused.
  steps: z.object(recordsOf(STEP_OUTPUT_SCHEMAS)).catchall(AnyRecordSchema),
  stop: z.strictObject(recordsOf(STOP_OUTPUT_SCHEMAS)).default({}),
}) as unknown as z.ZodType<Checkpoint>

/** The ids under which version 1 kept `datain stop`'s records among the steps'. */
const STOP_IDS_OF_V1 = Object.keys(STOP_OUTPUT_SCHEMAS)

/** Version 1 → 2: `datain stop`'s records move from `steps` to `stop`. */
export function checkpointV1toV2(v1: Record<string, unknown>): Record<string, unknown> {
  // Anything but an object is left to the schema, which reports it precisely.
  if (typeof v1.steps !== 'object' || v1.steps === null || Array.isArray(v1.steps)) return {...v1, version: 2}
  const steps = {...(v1.steps as Record<string, unknown>)}
  const stop: Record<string, unknown> = {}
  for (const id of STOP_IDS_OF_V1) {
    if (!(id in steps)) continue
    stop[id] = steps[id]
    delete steps[id]
  }
  return {...v1, version: 2, steps, stop}
}
