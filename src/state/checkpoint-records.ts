import type {Checkpoint, StepRecord} from './schema.js'

/**
 * What {@link ProfileStore.markStep} records; times are stamped by the store. `done` carries the
 * whole output; the other states what the step recorded so far.
 */
export type RecordUpdate<O> = {error?: {code: string; message: string}} & (
  | {state: 'done'; output?: O}
  | {state: 'running' | 'failed' | 'interrupted'; output?: Partial<O>}
)

/** The checkpoint's two sections of records: the setup steps', and `datain stop`'s. */
export type RecordSection = 'steps' | 'stop'

/**
 * The checkpoint with record `id` of `section` marked: `running` starts it afresh (startedAt `at`, no
 * output or error); the other states finish it (finishedAt `at`).
 */
export function withRecordMarked(checkpoint: Checkpoint, section: RecordSection, id: string, update: RecordUpdate<Record<string, unknown>>, at: string): Checkpoint {
  const records = checkpoint[section] as Record<string, StepRecord | undefined>
  const record: StepRecord =
    update.state === 'running' ? {state: 'running', startedAt: at} : {state: update.state, startedAt: records[id]?.startedAt ?? at, finishedAt: at}
  if (update.output !== undefined) record.output = update.output
  if (update.error !== undefined) record.error = update.error
  return {...checkpoint, updatedAt: at, [section]: {...records, [id]: record}}
}

/** The checkpoint with `output` merged into the output of record `id`, which must be running. */
export function withProgress(checkpoint: Checkpoint, section: RecordSection, id: string, output: Record<string, unknown>, at: string): Checkpoint {
  const records = checkpoint[section] as Record<string, StepRecord | undefined>
  const record = records[id]
  if (record?.state !== 'running') throw new Error(`bug: recordProgress on step ${id}, which is not running`)
  const updated: StepRecord = {...record, output: {...record.output, ...output}}
  return {...checkpoint, updatedAt: at, [section]: {...records, [id]: updated}}
}
