import {readProgress} from '../state/progress.js'
import type {StepRecord} from '../state/schema.js'
import type {StepStatus} from './status-report.js'

/**
 * The snapshot step's status with the copy's progress, read from the profile's progress file while
 * the step is not done: live while a `datain start` runs it, the last figures (with their time)
 * when that run died. A file older than the step's start is an earlier attempt's, and not shown;
 * a damaged one is not shown either, and `ignored` says why.
 */
export async function withSnapshotProgress(
  status: StepStatus,
  record: StepRecord | undefined,
  dir: string,
): Promise<{status: StepStatus; ignored?: string}> {
  if (status.id !== 'snapshot' || !record || record.state === 'done') return {status}
  const reading = await readProgress(dir)
  if (!reading.progress) return {status, ignored: reading.ignored}
  if (Date.parse(reading.progress.updatedAt) < Date.parse(record.startedAt)) return {status}
  return {status: {...status, progress: reading.progress}}
}
