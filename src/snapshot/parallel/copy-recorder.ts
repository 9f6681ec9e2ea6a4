import type {CopyTally} from '../progress.js'
import type {CopyProgress} from '../single-stream.js'
import type {CopyRecord, WorkItem} from './copy-plan.js'

export interface RecorderOptions {
  onProgress?: (progress: CopyProgress) => void
  progressIntervalMs?: number
  /** Called with the record each time it changes (the tables planned, then each chunk done): keep it for a resume. */
  onRecord?: (record: CopyRecord) => Promise<void>
  /** Told of each table's rows and chunks, for `datain status` and the step's per-table summary. */
  tally?: CopyTally
}

/**
 * What the copy has done so far: the counts its progress line and result give, and the record a
 * resume reads (which chunks are loaded), written after each chunk, one write at a time.
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
  private recording = Promise.resolve()
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

  /** Starts recording `record` (the plan's) and writes it a first time. */
  start(record: CopyRecord): Promise<void> {
    this.record = record
    if (this.options.tally) this.options.tally.tablesTotal = record.tables.length
    return this.save()
  }

  /** A worker starts loading the chunk. */
  begin(item: WorkItem): void {
    if (!this.options.tally) return
    this.begun.add(item)
    this.options.tally.begin(item.chunk.table.database, item.chunk.table.name)
  }

  /** A chunk is in the replica (loaded, or verified): recorded before the worker moves on. */
  async done(item: WorkItem): Promise<void> {
    const entry = this.record.tables[item.tableIndex]!
    if (!entry.done.includes(item.chunk.index)) entry.done.push(item.chunk.index)
    this.tallyDone(item)
    await this.save()
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
    if (done.size >= item.chunk.count) tally.finished(database, name)
  }

  private save(): Promise<void> {
    // One write at a time, in order: each holds every chunk done so far.
    this.recording = this.recording.then(() => this.options.onRecord?.(structuredClone(this.record)))
    return this.recording
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
