import type {Connection} from 'mariadb'
import {DatainError} from '../../lib/errors.js'
import {globalVariables, isOn, placeholders} from '../../lib/sql.js'
import type {PreflightContext} from '../check.js'
import {type BaseTable, selectedTables, tableKey} from '../compat/tables.js'

/** At most this many tables are sized one by one, beside InnoDB's statistics; more, and one pass over them all. */
export const TABLES_SIZED_ONE_BY_ONE = 64

/**
 * Data and index bytes of the selected databases' base tables: the DATA_LENGTH + INDEX_LENGTH
 * information_schema.TABLES reports. Asking information_schema for them opens every table in its
 * engine: 12.5 s for 20,000 tables (2026-12-03, table cache cold), when the rest of preflight
 * takes about 2 s. For an InnoDB table with persistent statistics, information_schema reports the
 * sizes InnoDB keeps in mysql.innodb_table_stats (pages of its clustered index and of the others,
 * times the page size): those are read instead, in one query, and the few tables they do not
 * answer for (another engine, a partitioned table, a name with '#', statistics not persistent)
 * one by one. Without the privileges (SELECT on mysql.innodb_table_stats, PROCESS), or with a
 * compressed InnoDB table on the server (whose page is not the server's page size), the single pass.
 */
export async function dataBytes(ctx: Pick<PreflightContext, 'source' | 'databases' | 'shared'>): Promise<number> {
  if (ctx.databases.length === 0) return 0
  const tables = (await selectedTables(ctx)).filter((t) => t.type === 'BASE TABLE')
  const fromStatistics = await innodbStatistics(ctx.source, ctx.databases).catch((error: unknown) => {
    // Refused or missing: the single pass. A connection lost or a server that does not answer: not asked again.
    if (error instanceof DatainError || (error as {fatal?: boolean})?.fatal) throw error
    return undefined
  })
  if (!fromStatistics) return everyTableBytes(ctx.source, ctx.databases)
  let bytes = 0
  const unknown: BaseTable[] = []
  for (const t of tables) {
    const known = t.engine?.toLowerCase() === 'innodb' && !t.table.includes('#') ? fromStatistics.get(tableKey(t.database, t.table)) : undefined
    if (known === undefined) unknown.push(t)
    else bytes += known
  }
  if (unknown.length > TABLES_SIZED_ONE_BY_ONE) return everyTableBytes(ctx.source, ctx.databases)
  // Name equal to a constant: MariaDB opens that one table only.
  const sizes = await Promise.all(
    unknown.map(async (t) => {
      const [row] = await ctx.source.query<Array<{bytes: number | null}>>(
        `SELECT COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) AS bytes FROM information_schema.TABLES
          WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE = 'BASE TABLE'`,
        [t.database, t.table],
      )
      return Number(row?.bytes ?? 0)
    }),
  )
  return sizes.reduce((sum, n) => sum + n, bytes)
}

/**
 * Bytes per InnoDB table (`tableKey`) from its persistent statistics; undefined when they cannot
 * stand for what information_schema reports (statistics not persistent by default, a compressed
 * table on the server, or the privileges to tell are missing: the query fails).
 */
async function innodbStatistics(source: Connection, databases: readonly string[]): Promise<Map<string, number> | undefined> {
  const vars = await globalVariables(source, ['innodb_stats_persistent'])
  if (!isOn(vars.innodb_stats_persistent)) return undefined
  const [compressed] = await source.query<Array<{n: bigint | number}>>('SELECT COUNT(*) AS n FROM information_schema.INNODB_SYS_TABLES WHERE ZIP_PAGE_SIZE > 0')
  if (Number(compressed?.n ?? 1) > 0) return undefined
  const rows = await source.query<Array<{db: string; name: string; bytes: bigint | number}>>(
    `SELECT database_name AS db, table_name AS name, (clustered_index_size + sum_of_other_index_sizes) * @@innodb_page_size AS bytes
       FROM mysql.innodb_table_stats WHERE database_name IN (${placeholders(databases.length)})`,
    [...databases],
  )
  return new Map(rows.map((r) => [tableKey(r.db, r.name), Number(r.bytes)]))
}

/** The single pass: every table of `databases` opened by the server. */
async function everyTableBytes(source: Connection, databases: readonly string[]): Promise<number> {
  const [row] = await source.query<Array<{bytes: number | null}>>(
    `SELECT SUM(COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0)) AS bytes FROM information_schema.TABLES
     WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (${placeholders(databases.length)})`,
    [...databases],
  )
  return Number(row?.bytes ?? 0)
}
