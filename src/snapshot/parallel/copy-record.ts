import type {CopyRecord} from './copy-plan.js'

/** One table of a {@link CopyRecord}. */
export type RecordedTable = CopyRecord['tables'][number]

/**
 * A change to the record, as the copy makes it: a table planned (its definition and cut, before any
 * of its chunks can finish), or a chunk of a planned table in the replica. `t` is the table's
 * index in the record: tables are appended in order.
 */
export type CopyLine = {t: number; table: RecordedTable} | {t: number; c: number}

/**
 * Where a copy keeps what its resume needs. The snapshot step's keeps the record in the checkpoint
 * and the lines in a journal beside it, so that a finished chunk costs a line, not a rewrite of a
 * record of thousands of tables.
 */
export interface CopyLog {
  /** The record as the copy starts (a resume's, or the first slice's tables): replaces any earlier one. */
  begin(record: CopyRecord): Promise<void>
  /** A change, kept with the next batch (the copy does not wait for it). Throws when an earlier batch failed. */
  append(line: CopyLine): void
  /**
   * The copy stopped unfinished: the whole record (nothing moves any more), which its resume reads
   * without the lines.
   */
  compact(record: CopyRecord): Promise<void>
  /**
   * The copy is complete: waits until every line is kept. Its record is not written whole: the step's done
   * output, written next, no longer holds it, and until then the lines serve a resume.
   */
  end(): Promise<void>
}

/** At most this many bounds a table (planChunks cuts at most 64 chunks; an older record may hold as many). */
const MAX_BOUNDS = 1024

/**
 * The record a checkpoint holds, if it is a well-formed one with at least one table (an earlier
 * copy's, written by this datain or an earlier one). Each table's bounds must be integers in
 * increasing order: any other cut would leave rows out of every chunk, or in two.
 */
export function parseCopyRecord(value: unknown, minTables = 1): CopyRecord | undefined {
  const tables = (value as {tables?: unknown})?.tables
  if (!Array.isArray(tables) || tables.length < minTables) return undefined
  if (!tables.every((t) => isRecordedTable(t))) return undefined
  // A copy: the resume adds to it, and the checkpoint's own stays as it was read.
  return {tables: (tables as RecordedTable[]).map((t) => ({database: t.database, name: t.name, definition: t.definition, bounds: [...t.bounds], done: [...new Set(t.done)]}))}
}

function isRecordedTable(t: unknown): t is RecordedTable {
  const r = t as Partial<RecordedTable> | undefined
  if (typeof r?.database !== 'string' || typeof r.name !== 'string' || typeof r.definition !== 'string') return false
  if (!Array.isArray(r.bounds) || r.bounds.length > MAX_BOUNDS || !Array.isArray(r.done)) return false
  if (!r.bounds.every((b: unknown) => typeof b === 'string' && /^-?\d{1,40}$/.test(b))) return false
  for (let i = 1; i < r.bounds.length; i++) if (BigInt(r.bounds[i - 1]!) >= BigInt(r.bounds[i]!)) return false
  return r.done.every((d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0 && (d as number) <= r.bounds!.length)
}

/**
 * Applies one line of a journal to `record` (a copy made for it); returns false, changing nothing,
 * for a line that is not a change this copy could have made: a table out of order or malformed, a
 * chunk of a table not planned or beyond its cut. Such a line is hostile or broken: leaving it out
 * can only make the resume check or load more, never skip a table.
 */
export function applyCopyLine(record: CopyRecord, line: unknown): boolean {
  const l = line as {t?: unknown; table?: unknown; c?: unknown} | undefined
  if (!Number.isSafeInteger(l?.t)) return false
  const t = l!.t as number
  if (l!.table !== undefined) {
    if (t !== record.tables.length || !isRecordedTable(l!.table)) return false
    const table = l!.table
    record.tables.push({database: table.database, name: table.name, definition: table.definition, bounds: [...table.bounds], done: [...new Set(table.done)]})
    return true
  }
  const entry = record.tables[t]
  if (!entry || !Number.isSafeInteger(l!.c) || (l!.c as number) < 0 || (l!.c as number) > entry.bounds.length) return false
  if (!entry.done.includes(l!.c as number)) entry.done.push(l!.c as number)
  return true
}
