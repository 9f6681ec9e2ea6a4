import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../lib/errors.js'
import {placeholders} from '../lib/sql.js'
import {listTables, tableLabel} from '../snapshot/parallel/tables.js'
import type {VerifyTable} from './checksum.js'
import type {KeyColumn} from './keys.js'

/** What to compare: the copied databases, narrowed by `--databases` or `--tables db.t,…`. */
export interface Selection {
  copied: string[]
  databases?: string[]
  tables?: string[]
}

/**
 * The source's base tables that the selection names, with their primary keys typed for chunking,
 * biggest first (so that the last table to finish is a small one). A name that is not a copied
 * database or table is a usage error: verifying less than asked must never pass as identical.
 */
export async function planTables(source: Connection, selection: Selection): Promise<VerifyTable[]> {
  const databases = selection.databases ?? selection.copied
  const outside = databases.filter((d) => !selection.copied.includes(d))
  if (outside.length > 0) throw usage(`--databases names ${outside.join(', ')}, which the setup did not copy (it copied ${selection.copied.join(', ')}).`)
  const wantedTables = selection.tables?.map(parseTableName)
  const scope = wantedTables ? [...new Set(wantedTables.map((t) => t.database))] : databases
  const notCopied = scope.filter((d) => !selection.copied.includes(d))
  if (notCopied.length > 0) throw usage(`--tables names tables of ${notCopied.join(', ')}, which the setup did not copy.`)
  const all = await listTables(source, scope)
  const chosen = wantedTables ? all.filter((t) => wantedTables.some((w) => w.database === t.database && w.name === t.name)) : all
  if (wantedTables) {
    const missing = wantedTables.filter((w) => !all.some((t) => t.database === w.database && t.name === w.name))
    if (missing.length > 0) throw usage(`--tables names ${missing.map(tableLabel).join(', ')}, which the source has no base table of.`)
  }
  const columns = await columnDetails(source, scope)
  const detail = (t: {database: string; name: string}, column: string) => columns.get(`${t.database}\u0000${t.name}\u0000${column}`)
  return chosen
    .map((t) => ({
      database: t.database,
      name: t.name,
      columns: t.columns,
      key: t.primaryKey.map((k) => detail(t, k)!),
      estimatedRows: t.estimatedRows,
      // A column read after listTables (added meanwhile) has no detail: cast, as when collations differ.
      castText: t.columns.some((c) => !detail(t, c.name)) || new Set(t.columns.map((c) => detail(t, c.name)!.collation).filter((c) => c !== null)).size > 1,
    }))
    .sort((a, b) => b.estimatedRows - a.estimatedRows)
}

/** Every column's type and collation (null for bytes and numbers), by database, table and column name. */
async function columnDetails(source: Connection, databases: string[]): Promise<Map<string, KeyColumn>> {
  const rows = (await source.query(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS t, COLUMN_NAME AS name, LOWER(DATA_TYPE) AS type, LOWER(COLUMN_TYPE) AS columnType,
            CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (${placeholders(databases.length)})`,
    databases,
  )) as Array<{db: string; t: string} & KeyColumn>
  return new Map(rows.map((r) => [`${r.db}\u0000${r.t}\u0000${r.name}`, {name: r.name, type: r.type, columnType: r.columnType, charset: r.charset, collation: r.collation}]))
}

/**
 * `db.table`: split at the first dot (a database name has none that datain copies unquoted); a
 * name with a dot in it can be written `db`.`ta.ble`.
 */
export function parseTableName(text: string): {database: string; name: string} {
  const quoted = /^`((?:[^`]|``)+)`\.`((?:[^`]|``)+)`$/.exec(text.trim())
  if (quoted) return {database: quoted[1]!.replaceAll('``', '`'), name: quoted[2]!.replaceAll('``', '`')}
  const dot = text.indexOf('.')
  const database = text.slice(0, dot).trim()
  const name = text.slice(dot + 1).trim()
  if (dot < 0 || database === '' || name === '') throw usage(`--tables takes db.table names separated by commas; '${text}' is not one.`)
  return {database, name}
}

function usage(message: string): DatainError {
  return new DatainError(message + ' Nothing was compared.', {code: 'E_VERIFY_USAGE', exit: ExitCode.usage})
}
