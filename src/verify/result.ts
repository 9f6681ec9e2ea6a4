/** Where a verify run stands, for the progress line (stderr) and for callers that show their own. */
export interface VerifyProgress {
  tablesDone: number
  tablesTotal: number
  rowsDone: number
  /** InnoDB's estimate of the rows to compare. */
  rowsTotal: number
  rowsPerSecond: number
  etaSeconds: number | null
  startedAt: string
}

/** One table's comparison. */
export interface TableResult {
  /** `db.table`. */
  table: string
  /** Rows read on the source; InnoDB's estimate when `rowsEstimated` (CHECKSUM TABLE matched, no chunk was read). */
  rows: number
  rowsEstimated?: boolean
  chunks: number
  /** Chunk reads done again after a first difference (a steady write load causes some). */
  rechecks: number
  /** The primary-key values of the rows that differ (changed, missing or extra on the replica), column name → value. */
  differences: Array<Record<string, unknown>>
  /** Can exceed `differences.length`, which is capped. */
  differencesTotal: number
  /** The replica has no such table. */
  missingOnReplica?: boolean
  /** The replica's table lacks a column of the source's (nothing of it was compared). */
  columnsDiffer?: boolean
}

/** The result of `datain verify` (its `--json`). */
export interface VerifyResult {
  identical: boolean
  /** 0 identical, 1 differences. */
  exitCode: 0 | 1
  tablesCompared: number
  rowsCompared: number
  differencesTotal: number
  tables: TableResult[]
  seconds: number
  checkedAt: string
}
