import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../../lib/errors.js'
import {sizedDeadlineMs, withDeadline} from '../../lib/mariadb.js'
import {placeholders} from '../../lib/sql.js'
import {DEFAULT_KEYS_AFTER_ROWS_MB} from '../../lib/keys-after-rows.js'
import {stallTimeoutMs} from '../../lib/stall.js'
import {addKeysStatement, type DeferredKeys, deferKeys, foreignKeyTargets} from './deferred-keys.js'
import {prepareDdlSessions} from './schema.js'
import {type TableInfo, tableKey, tableLabel} from './tables.js'

/**
 * Tables at least this large (InnoDB's estimate) are created without their plain secondary keys,
 * which are built after the rows: one sorted build of each index instead of an insert into it for
 * every row. Measured on the replica's server alone (4 × 200,000 rows, 2 sessions): 2.8–2.9 s
 * against 3.0–3.5 s, 10–15 % less CPU. A small table gains nothing worth a second DDL statement
 * (a few ms each: thousands of them would cost more than they save). DATAIN_KEYS_AFTER_ROWS_MB
 * sets another size, or none (keysAfterRowsBytes).
 */
export const DEFER_KEYS_BYTES = DEFAULT_KEYS_AFTER_ROWS_MB * 1024 * 1024

/**
 * The split of `ddl` (deferKeys) when `table` is large enough for its keys to go after its rows,
 * else undefined: the one rule the copy follows, and the bench's replica limit with it.
 */
export function keysAfterRows(table: Pick<TableInfo, 'estimatedBytes'>, ddl: string, minBytes = DEFER_KEYS_BYTES): DeferredKeys | undefined {
  return table.estimatedBytes >= minBytes ? deferKeys(ddl) : undefined
}

interface Deferred {
  table: Pick<TableInfo, 'database' | 'name'> & {estimatedBytes?: number}
  keys: DeferredKeys['keys']
  /** Created without them in this run; otherwise an earlier run's table, which may have them already. */
  missing: boolean
}

/**
 * The keys of the tables created without them, built after the rows (deferKeys says which tables
 * and which keys: InnoDB tables with a primary key and no foreign key, their non-unique keys),
 * each table's in one ALTER TABLE on a session of their own (without LOAD DATA LOCAL: the clauses
 * are the source's text). A table another table's FOREIGN KEY references keeps its keys (the
 * replica refuses such a CREATE while the index it needs is missing, even with foreign_key_checks
 * off), or has them built before that table is created (`scan`).
 *
 * On a resume, the tables an earlier run created are registered as maybe lacking their keys: the
 * build first asks the replica which of them it has, and adds only the others.
 */
export class KeyBuilds {
  private readonly waiting = new Map<string, Deferred>()
  private readonly building = new Map<string, Promise<void>>()
  private readonly free: Connection[] = []
  private readonly queue: Array<(session: Connection) => void> = []
  private opened = 0
  /** Tables a FOREIGN KEY of a table seen so far references; `all` when one could not be read. */
  private readonly referenced = new Set<string>()
  private referencesUnknown = false
  /** Tables whose keys an ALTER TABLE of this run added. */
  built = 0

  constructor(
    private readonly options: {
      /** A new replica session without LOAD DATA LOCAL (closed by its opener). */
      open: () => Promise<Connection>
      /** Builds at once, at most. */
      sessions: number
      /**
       * Defer the keys of the tables created now, and of which sizes. Not on a resume: a table kept
       * from the earlier run may hold a FOREIGN KEY to one created now, whose text is not read yet.
       */
      deferNew: boolean
      minBytes?: number
      /** Told of a build's failure as soon as it happens (the copy stops its workers). */
      onFailure?: (error: unknown) => void
      /** What is under way, for the progress line (WorkerPool.busy): a build says "db.t (indexes)". */
      busy?: Map<number, string>
    },
  ) {}

  /**
   * Reads the FOREIGN KEYs of a slice's definitions before its tables are created: a table they
   * reference is not created without its keys, and one already created so has them built now.
   */
  async scan(tables: Array<Pick<TableInfo, 'database' | 'name'>>, ddls: string[]): Promise<void> {
    for (const [i, ddl] of ddls.entries()) {
      // Every FOREIGN KEY item holds this word; a name holding it only costs a parse.
      if (!/REFERENCES/i.test(ddl)) continue
      const targets = foreignKeyTargets(ddl, tables[i]!.database)
      if (targets === 'unknown') this.referencesUnknown = true
      else for (const target of targets) this.referenced.add(tableKey(target))
    }
    const settle = [...this.waiting.keys(), ...this.building.keys()].filter((k) => this.referencesUnknown || this.referenced.has(k))
    await Promise.all(settle.map((k) => this.build(k)))
  }

  /** The CREATE TABLE to run for `table` (created now): without its plain keys where that pays and is safe. */
  definitionFor(table: TableInfo, ddl: string): string {
    const k = tableKey(table)
    if (!this.options.deferNew || this.referencesUnknown || this.referenced.has(k)) return ddl
    const deferred = keysAfterRows(table, ddl, this.options.minBytes)
    if (!deferred) return ddl
    this.waiting.set(k, {table: {database: table.database, name: table.name, estimatedBytes: table.estimatedBytes}, keys: deferred.keys, missing: true})
    return deferred.create
  }

  /** `table`, kept from an earlier run, may lack the keys that run built after the rows. */
  mayLack(table: Pick<TableInfo, 'database' | 'name' | 'estimatedBytes'>, ddl: string): void {
    const deferred = deferKeys(ddl)
    if (deferred) {
      this.waiting.set(tableKey(table), {table: {database: table.database, name: table.name, estimatedBytes: table.estimatedBytes}, keys: deferred.keys, missing: false})
    }
  }

  /**
   * Starts building `table`'s keys (its rows are all in), if it was created without them, without
   * waiting: a failure goes to onFailure and to finish.
   */
  start(table: Pick<TableInfo, 'database' | 'name'>): void {
    void this.build(tableKey(table)).catch(() => {})
  }

  /** Builds every key not built yet, and waits for all the builds. */
  async finish(): Promise<void> {
    // An earlier run's tables: which keys each lacks, asked a few hundred tables at a time (a resume of thousands of tables).
    const kept = [...this.waiting.values()].filter((entry) => !entry.missing)
    if (kept.length > 0) {
      await this.withSession((session) => findLacking(session, kept))
      for (const entry of kept) if (entry.keys.length === 0) this.waiting.delete(tableKey(entry.table))
    }
    await Promise.all([...this.waiting.keys(), ...this.building.keys()].map((k) => this.build(k)))
  }

  /** The build of one table's keys, started once. */
  private build(k: string): Promise<void> {
    const running = this.building.get(k)
    if (running) return running
    const entry = this.waiting.get(k)
    if (!entry) return Promise.resolve()
    this.waiting.delete(k)
    const slot = -1 - this.building.size
    const done = this.withSession(async (session) => {
      this.options.busy?.set(slot, `${tableLabel(entry.table)} (indexes)`)
      try {
        if (await addKeys(session, entry)) this.built++
      } finally {
        this.options.busy?.delete(slot)
      }
    })
    done.catch((error: unknown) => this.options.onFailure?.(error))
    this.building.set(k, done)
    return done
  }

  private async withSession<T>(task: (session: Connection) => Promise<T>): Promise<T> {
    const session = await this.session()
    try {
      return await task(session)
    } finally {
      const next = this.queue.shift()
      if (next) next(session)
      else this.free.push(session)
    }
  }

  private async session(): Promise<Connection> {
    const free = this.free.pop()
    if (free) return free
    if (this.opened >= Math.max(1, this.options.sessions)) return new Promise((resolve) => this.queue.push(resolve))
    this.opened++
    const session = await this.options.open()
    // The CREATE's session, so that the clauses read as they were written (deferKeys read them so),
    // and without the server's max_statement_time (the build of a large table takes long).
    await prepareDdlSessions([], session)
    // A lock held on the table (another session's open transaction, a DDL) must not hold the build for a day (the default).
    await session.query('SET SESSION lock_wait_timeout = ?', [Math.max(1, Math.round(stallTimeoutMs() / 1000))])
    return session
  }
}

/**
 * Adds the keys `entry`'s table lacks (all, when it was created without them) in one ALTER TABLE.
 * A key that is there by then (1061: an earlier run's build, still running on the replica when this
 * one looked, has finished since) is not a failure: the others are added.
 */
async function addKeys(session: Connection, entry: Deferred): Promise<boolean> {
  const {database, name} = entry.table
  try {
    if (!entry.missing) await findLacking(session, [entry])
    if (entry.keys.length === 0) return false
    const build = () => session.query(withDeadline(addKeysStatement(database, name, entry.keys), buildBoundMs(entry.table.estimatedBytes)))
    try {
      await build()
    } catch (error) {
      if ((error as {errno?: number})?.errno !== ER_DUP_KEYNAME) throw error
      await findLacking(session, [entry])
      if (entry.keys.length > 0) await build()
    }
    return true
  } catch (error) {
    const e = error as {errno?: number; sqlMessage?: string; message?: string}
    throw new DatainError(`Adding the indexes of the table ${database}.${name} on the replica, after its rows, failed: ${e?.sqlMessage ?? e?.message ?? String(error)}${hint(e?.errno)}.`, {
      code: 'E_SNAPSHOT_LOAD',
      exit: ExitCode.failed,
      cause: error,
    })
  }
}

const ER_DUP_KEYNAME = 1061

/**
 * How long one table's build may take (sizedDeadlineMs): a second for each MiB of the table. The
 * server shows no progress for such an ALTER (PROCESSLIST.PROGRESS stays 0), so no watchdog can
 * tell a slow build from a stuck one. Measured 26-37 MB/s on the 2-core test machine under load:
 * the 30 minutes of other DDL would end every build past about 50 GB, and its resume the same way.
 */
export function buildBoundMs(estimatedBytes: number | undefined): number {
  return sizedDeadlineMs(estimatedBytes ?? 0, 1024 * 1024)
}

/** What a DBA can do about the build's failure, for the errors that have an answer. */
function hint(errno: number | undefined): string {
  // ER_LOCK_WAIT_TIMEOUT
  if (errno === 1205) return ` (another session holds the table, perhaps an earlier run's build still under way: see the replica's process list, then run 'datain start' again)`
  // ER_DISK_FULL, ER_GET_ERRNO, ER_RECORD_FILE_FULL, ER_TEMP_FILE_WRITE_FAILURE
  if (errno === 1021 || errno === 1030 || errno === 1114 || errno === 1878) {
    return ` (an index built after the rows is sorted in the replica's temporary space, innodb_tmpdir or tmpdir, which needs about the index's size free)`
  }
  return ''
}

/** Keeps in each entry only the keys its table on the replica has not (index names are case-insensitive); each is then known. */
async function findLacking(session: Connection, entries: Deferred[]): Promise<void> {
  const present = new Set<string>()
  const byDatabase = new Map<string, Deferred[]>()
  for (const entry of entries) {
    const group = byDatabase.get(entry.table.database)
    if (group) group.push(entry)
    else byDatabase.set(entry.table.database, [entry])
  }
  for (const [database, group] of byDatabase) {
    for (let first = 0; first < group.length; first += LOOKUP_TABLES) {
      const names = group.slice(first, first + LOOKUP_TABLES).map((entry) => entry.table.name)
      const rows = (await session.query(
        `SELECT TABLE_NAME AS t, INDEX_NAME AS i FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (${placeholders(names.length)})`,
        [database, ...names],
      )) as Array<{t: string; i: string}>
      for (const row of rows) present.add(`${tableKey({database, name: row.t})}\u0000${row.i.toLowerCase()}`)
    }
  }
  for (const entry of entries) {
    entry.keys = entry.keys.filter((k) => !present.has(`${tableKey(entry.table)}\u0000${k.name.toLowerCase()}`))
    entry.missing = true
  }
}

/** Tables asked about in one query. */
const LOOKUP_TABLES = 500

