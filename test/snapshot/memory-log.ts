import type {CopyRecord} from '../../src/snapshot/parallel/copy-plan.js'
import {applyCopyLine, type CopyLine, type CopyLog} from '../../src/snapshot/parallel/copy-record.js'

/** A CopyLog in memory: the record as a resume would read it (begun, each line applied), and what the copy's end compacted. */
export interface MemoryLog extends CopyLog {
  record: CopyRecord
  lines: CopyLine[]
  /** Lines the record refused (none from a well-behaved copy). */
  refused: CopyLine[]
  compacted: CopyRecord | undefined
  ended: boolean
}

/** `onChange` is told of the record after each change the copy makes (begin, each line). */
export function memoryLog(onChange?: (record: CopyRecord) => void): MemoryLog {
  const log: MemoryLog = {
    record: {tables: []},
    lines: [],
    refused: [],
    compacted: undefined,
    ended: false,
    async begin(record) {
      log.record = structuredClone(record)
      onChange?.(log.record)
    },
    append(line) {
      log.lines.push(structuredClone(line))
      if (!applyCopyLine(log.record, structuredClone(line))) log.refused.push(line)
      onChange?.(log.record)
    },
    async compact(record) {
      log.compacted = structuredClone(record)
    },
    async end() {
      log.ended = true
    },
  }
  return log
}
