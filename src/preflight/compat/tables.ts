import type {Connection} from 'mariadb'
import {compareText, globalVariables, placeholders} from '../../lib/sql.js'
import type {PreflightContext} from '../check.js'
import {sharedAnswer} from '../shared.js'

export interface BaseTable {
  database: string
  table: string
  /** NULL when the server cannot open the table (a missing engine plugin, a damaged table). */
  engine: string | null
  /** 'BASE TABLE' or 'SYSTEM VERSIONED'. */
  type: string
}

/**
 * Tables that hold rows: base tables and system-versioned ones (MariaDB lists those apart), not
 * views, not sequences.
 */
const TABLE_TYPES = ['BASE TABLE', 'SYSTEM VERSIONED']

/** True when the server compares database and table names without regard to case (lower_case_table_names 1 or 2). */
export async function foldsNameCase(conn: Connection): Promise<boolean> {
  const vars = await globalVariables(conn, ['lower_case_table_names'])
  return Number(vars.lower_case_table_names) !== 0
}

/**
 * A test for "is this schema name one of `databases`" as the server itself would decide it.
 * information_schema compares names case-insensitively whatever lower_case_table_names says, so
 * rows are filtered again here: on a case-sensitive source `Shop` and `shop` are two databases.
 */
export function schemaMatcher(databases: readonly string[], foldCase: boolean): (schema: string) => boolean {
  const fold = (s: string) => (foldCase ? s.toLowerCase() : s)
  const wanted = new Set(databases.map(fold))
  return (schema) => wanted.has(fold(schema))
}

/** Base tables of `databases`, sorted by database then table. */
export async function baseTables(conn: Connection, databases: readonly string[]): Promise<BaseTable[]> {
  if (databases.length === 0) return []
  const inSelection = schemaMatcher(databases, await foldsNameCase(conn))
  const rows = (await conn.query(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, ENGINE AS engine, TABLE_TYPE AS type FROM information_schema.TABLES
      WHERE TABLE_SCHEMA IN (${placeholders(databases.length)}) AND TABLE_TYPE IN (${placeholders(TABLE_TYPES.length)})`,
    [...databases, ...TABLE_TYPES],
  )) as Array<{db: string; name: string; engine: string | null; type: string}>
  return rows
    .filter((r) => inSelection(r.db))
    .map((r) => ({database: r.db, table: r.name, engine: r.engine, type: r.type}))
    .sort(compareTables)
}

/** The base tables of the selected databases on the source, read once per preflight run. */
export function selectedTables(ctx: Pick<PreflightContext, 'source' | 'databases' | 'shared'>): Promise<BaseTable[]> {
  return sharedAnswer(ctx, 'base-tables', () => baseTables(ctx.source, ctx.databases))
}

export function compareTables(a: {database: string; table: string}, b: {database: string; table: string}): number {
  return compareText(a.database, b.database) || compareText(a.table, b.table)
}


/** `db.table` as offenders are listed (unquoted: for people, not for SQL). */
export function tableLabel(t: {database: string; table: string}): string {
  return `${t.database}.${t.table}`
}

export const tableKey = (database: string, table: string) => `${database}\u0000${table}`
