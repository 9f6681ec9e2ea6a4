import type {CopyTally} from '../progress.js'
import type {CopyProgress} from '../single-stream.js'
import type {CopyRecord, WorkItem} from './copy-plan.js'
import type {CopyLog} from './copy-record.js'

export interface RecorderOptions {
  onProgress?: (progress: CopyProgress) => void
  progressIntervalMs?: number
  /** Where the record goes as it changes (the tables planned, then each chunk done): what a resume reads. */
  log?: CopyLog
  /** Told of each table's rows and chunks, for `datain status` and the step's per-table summary. */
  tally?: CopyTally
}

/**
 * What the copy has done so far: the counts its progress line and result give, and the record a
 * resume reads (which chunks are loaded), kept by the log a line at a time as tables are planned
 * and chunks finish, and whole once the copy ends.
 */
export class CopyRecorder {
  rows = 0
  bytes = 0
  estimatedRows = 0
  /** On a resume: chunks an earlier run loaded that still matched the source, their rows, and the chunks emptied to load again. */
  keptChunks = 0
  keptRows = 0
  reloadedChunks = 0
  private record: CopyRecord = {tables: []}
  /** Tables of the record the log has (begun with, or appended); undefined before the log began. */
  private logged: number | undefined
  /** Chunks a worker began (a verified chunk never does), and each table's chunks done in this run. */
  private readonly begun = new Set<WorkItem>()
  private readonly chunksDone = new Map<number, Set<number>>()
  private readonly timer: NodeJS.Timeout | undefined

  constructor(
    private readonly options: RecorderOptions,
    /** What each busy worker copies (WorkerPool.busy). */
    private readonly busy: ReadonlyMap<number, string>,
    private readonly started: number,
  ) {
    this.timer = options.onProgress ? setInterval(() => this.report(), options.progressIntervalMs ?? 1000) : undefined
  }

  /**
   * Records `record` (the plan's): the first call begins the log with it; a later one, with the
   * same record grown by a slice of tables, appends the tables added since.
   */
  async track(record: CopyRecord): Promise<void> {
    if (this.logged === undefined) {
      this.record = record
      this.logged = record.tables.length
      await this.options.log?.begin(structuredClone(record))
    }
    for (; this.logged < record.tables.length; this.logged++) this.options.log?.append({t: this.logged, table: record.tables[this.logged]!})
    // Slices come one after the other: the total the step counted first stays until the record passes it.
    if (this.options.tally) this.options.tally.tablesTotal = Math.max(this.options.tally.tablesTotal, record.tables.length)
  }

  /** A worker starts loading the chunk. */
  begin(item: WorkItem): void {
    if (!this.options.tally) return
    this.begun.add(item)
    this.options.tally.begin(item.chunk.table.database, item.chunk.table.name)
  }

  /**
   * A chunk is in the replica (loaded, or verified): a line of the log, kept with the next batch,
   * which the worker does not wait for. A crash before that batch only makes a resume check or load
   * the chunk again; what the log keeps is always loaded. Throws when an earlier batch failed.
   */
  done(item: WorkItem): void {
    const entry = this.record.tables[item.tableIndex]!
    if (!entry.done.includes(item.chunk.index)) {
      entry.done.push(item.chunk.index)
      this.options.log?.append({t: item.tableIndex, c: item.chunk.index})
    }
    this.tallyDone(item)
  }

  /** Every chunk is in the replica: the log keeps its last lines. */
  async end(): Promise<void> {
    if (this.logged !== undefined) await this.options.log?.end()
  }

  /** The whole record to the log, once no chunk moves any more (a copy that stopped unfinished). */
  async compact(): Promise<void> {
    // Not the tables of a slice planned but not created yet (a failure in between): the log never had them.
    if (this.logged !== undefined) await this.options.log?.compact({tables: this.record.tables.slice(0, this.logged)})
  }

  loaded(rows: number, bytes: number, item?: WorkItem): void {
    this.rows += rows
    this.bytes += bytes
    if (item) this.options.tally?.add(item.chunk.table.database, item.chunk.table.name, rows, bytes)
  }

  kept(rows: number, item?: WorkItem): void {
    this.keptChunks++
    this.keptRows += rows
    this.rows += rows
    if (item) this.options.tally?.add(item.chunk.table.database, item.chunk.table.name, rows, 0)
  }

  report(done = false): void {
    // Nothing to say before the first rows land (the snapshot, the tables): no rate, no ETA yet.
    if (this.rows > 0 || done) this.options.onProgress?.(this.progress(done))
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
  }

  private tallyDone(item: WorkItem): void {
    const {tally} = this.options
    if (!tally) return
    const {database, name} = item.chunk.table
    if (this.begun.delete(item)) tally.end(database, name)
    const done = this.chunksDone.get(item.tableIndex) ?? new Set<number>()
    this.chunksDone.set(item.tableIndex, done.add(item.chunk.index))
    if (done.size >= item.chunk.count) {
      tally.finished(database, name)
      // A finished table's chunks are not asked about again: nothing kept per table once it is done.
      this.chunksDone.delete(item.tableIndex)
    }
  }

  private progress(done: boolean): CopyProgress {
    const seconds = Math.max(0.001, (Date.now() - this.started) / 1000)
    const rowsPerSecond = this.rows / seconds
    const tables = [...new Set(this.busy.values())]
    return {
      bytes: this.bytes,
      rows: this.rows,
      seconds,
      estimatedRows: this.estimatedRows,
      bytesPerSecond: this.bytes / seconds,
      rowsPerSecond,
      etaSeconds: this.estimatedRows > 0 && rowsPerSecond > 0 ? Math.max(0, this.estimatedRows - this.rows) / rowsPerSecond : undefined,
      table: tables.length === 0 ? undefined : tables.length === 1 ? tables[0] : `${tables[0]} +${tables.length - 1}`,
      done,
    }
  }
}
