import type {SnapshotProgress} from '../state/progress.js'

/** One table's share of a copy. */
export interface TableFigures {
  /** `db.table`, as the source names it. */
  table: string
  rows: number
  bytes: number
  /** Wall-clock seconds during which some of its rows were moving (its chunks overlap on several workers). */
  seconds: number
}

/**
 * The per-table summary the snapshot step keeps in its output, bounded whatever the number of
 * tables: the SLOWEST_TABLES tables that took longest, slowest first, and every other table in
 * one total, so that 20,000 tables cost a checkpoint no more than 20.
 */
export interface TableSummary {
  tables: number
  slowest: TableFigures[]
  others: {tables: number; rows: number; bytes: number; seconds: number}
}

export const SLOWEST_TABLES = 20
/** In flight at once: the parallel copy's threads (64 at most); the file's schema allows more. */
const MAX_IN_FLIGHT = 64

interface Tally extends TableFigures {
  /** Pieces moving now (chunks on workers; 1 for the stream's current table). */
  active: number
  /** When `active` last went from 0 to 1. */
  since: number
  finished: boolean
}

/**
 * What a copy has done, table by table, for `datain status` and `start --json` (the contract's
 * progress object) and the step's per-table summary. Both engines feed it: the parallel copy per
 * chunk (begin, add, end, finished), the single stream as mariadb-dump moves from table to table
 * (streamAt). Tables are keyed by database and name, shown as `db.table`.
 */
export class CopyTally {
  tablesTotal = 0
  /** InnoDB's estimate, what the ETA counts toward. */
  rowsTotal = 0
  private readonly tables = new Map<string, Tally>()
  private rows = 0
  private bytes = 0
  private tablesDone = 0
  private current: string | undefined
  private ended = false
  private readonly started: number

  constructor(private readonly now: () => number = Date.now) {
    this.started = now()
  }

  /** A piece of the table starts moving. */
  begin(database: string, name: string): void {
    const t = this.tally(database, name)
    if (t.active++ === 0) t.since = this.now()
  }

  /** Rows and bytes of the table are in the replica (loaded, or kept from an earlier run). */
  add(database: string, name: string, rows: number, bytes: number): void {
    const t = this.tally(database, name)
    t.rows += rows
    t.bytes += bytes
    this.rows += rows
    this.bytes += bytes
  }

  /** A piece that began has ended. */
  end(database: string, name: string): void {
    const t = this.tally(database, name)
    if (t.active === 0) return
    if (--t.active === 0) t.seconds += (this.now() - t.since) / 1000
  }

  /** Every row of the table is in the replica. */
  finished(database: string, name: string): void {
    const t = this.tally(database, name)
    if (t.finished) return
    t.finished = true
    this.tablesDone++
  }

  /**
   * The single stream: mariadb-dump is at `table` (`db.table`; undefined once it is past the last)
   * with these running totals. What moved since the last call is the current table's; a new
   * table finishes the one before (a dump writes each table's rows in one go).
   */
  streamAt(table: string | undefined, rows: number, bytes: number): void {
    if (this.current !== undefined) this.add('', this.current, rows - this.rows, bytes - this.bytes)
    else {
      this.rows = rows
      this.bytes = bytes
    }
    if (table === this.current) return
    if (this.current !== undefined) {
      this.end('', this.current)
      this.finished('', this.current)
    }
    this.current = table
    if (table !== undefined) this.begin('', table)
  }

  /** The copy is complete: every table is done, whether or not each was seen going by. */
  finish(): void {
    if (this.current !== undefined) this.streamAt(undefined, this.rows, this.bytes)
    const now = this.now()
    for (const t of this.tables.values()) {
      if (t.active > 0) t.seconds += (now - t.since) / 1000
      t.active = 0
    }
    this.tablesDone = Math.max(this.tablesDone, this.tablesTotal)
    this.ended = true
  }

  progress(): SnapshotProgress {
    const seconds = Math.max(0.001, (this.now() - this.started) / 1000)
    const rate = this.rows / seconds
    const left = this.rowsTotal - this.rows
    const inFlight = [...this.tables.values()].filter((t) => t.active > 0).map((t) => t.table)
    return {
      tablesDone: this.tablesDone,
      tablesTotal: Math.max(this.tablesTotal, this.tablesDone),
      rowsDone: this.rows,
      rowsTotal: this.rowsTotal,
      bytesDone: this.bytes,
      rowsPerSecond: Math.round(rate),
      // The estimate may be below what is copied: no ETA then, rather than "0 s" for an hour.
      etaSeconds: this.ended ? 0 : rate > 0 && left > 0 ? Math.round(left / rate) : null,
      inFlight: inFlight.slice(0, MAX_IN_FLIGHT),
      updatedAt: new Date(this.now()).toISOString(),
    }
  }

  summary(): TableSummary {
    const all = [...this.tables.values()]
    // Longest first; equal times (a fast copy) by most rows.
    all.sort((a, b) => b.seconds - a.seconds || b.rows - a.rows)
    const slowest = all.slice(0, SLOWEST_TABLES).map(({table, rows, bytes, seconds}) => ({table, rows, bytes, seconds: round(seconds)}))
    const sum = (key: 'rows' | 'bytes' | 'seconds') => slowest.reduce((n, t) => n + t[key], 0)
    const tables = Math.max(this.tablesTotal, all.length)
    const otherSeconds = all.slice(SLOWEST_TABLES).reduce((n, t) => n + t.seconds, 0)
    return {
      tables,
      slowest,
      others: {tables: tables - slowest.length, rows: Math.max(0, this.rows - sum('rows')), bytes: Math.max(0, this.bytes - sum('bytes')), seconds: round(otherSeconds)},
    }
  }

  private tally(database: string, name: string): Tally {
    // `db.t` alone would mix up `a.b`.`c` and `a`.`b.c`; the stream's names come whole (database '').
    const key = `${database}\u0000${name}`
    let t = this.tables.get(key)
    if (!t) {
      t = {table: database === '' ? name : `${database}.${name}`, rows: 0, bytes: 0, seconds: 0, active: 0, since: 0, finished: false}
      this.tables.set(key, t)
    }
    return t
  }
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000
}
