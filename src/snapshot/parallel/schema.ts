import {createHash} from 'node:crypto'
import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../../lib/errors.js'
import {placeholders, quoteIdentifier, quoteQualified} from '../../lib/sql.js'
import {type ExpectedObject, rewriteHead} from '../objects/statement-head.js'
import {listTables, type TableInfo} from './tables.js'

/**
 * The session settings for reading and writing definitions: plain backtick-quoted DDL whatever
 * sql_mode the source defaults to (ANSI_QUOTES would change it), and on the replica no foreign
 * key checks, so that a table may reference one created later, and no max_statement_time: a
 * replica-wide one ended the index build of a large table after its rows were in (1317), where the
 * CREATE with its keys would have gone through.
 */
export async function prepareDdlSessions(sources: Connection | Connection[], ...replicas: Connection[]): Promise<void> {
  await Promise.all([sources].flat().map((source) => source.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', sql_quote_show_create = 1")))
  await Promise.all(replicas.map((replica) => replica.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', foreign_key_checks = 0, max_statement_time = 0")))
}

/**
 * Creates the databases on the replica as the source defines them (SHOW CREATE DATABASE, checked
 * to be exactly that), unless they exist. `replica` must not allow LOAD DATA LOCAL: the text is the source's.
 */
export async function createDatabases(source: Connection, replica: Connection, databases: string[]): Promise<void> {
  const existing = new Set(
    ((await replica.query(`SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (${placeholders(databases.length)})`, databases)) as Array<{name: string}>).map(
      (r) => r.name,
    ),
  )
  for (const database of databases) {
    const ddl = await readDefinition(source, {kind: 'DATABASE', database, name: database}, `SHOW CREATE DATABASE ${quoteIdentifier(database)}`)
    if (existing.has(database)) continue
    await replica.query(ddl).catch((error: unknown) => {
      throw new DatainError(`Creating the database ${database} on the replica failed: ${sqlMessage(error)}.`, {code: 'E_SNAPSHOT_LOAD', exit: ExitCode.failed, cause: error})
    })
  }
}

/** The table's CREATE TABLE on the source (SHOW CREATE TABLE, checked to be exactly that), with every index. */
export async function tableDefinition(source: Connection, table: TableInfo): Promise<string> {
  return readDefinition(source, {kind: 'TABLE', database: table.database, name: table.name}, `SHOW CREATE TABLE ${quoteQualified(table.database, table.name)}`)
}

/**
 * What identifies a table's definition across runs: its CREATE TABLE without the AUTO_INCREMENT
 * counter, which writes move on without changing the table.
 */
export function definitionHash(ddl: string): string {
  return createHash('sha256').update(ddl.replace(/ AUTO_INCREMENT=\d+/, '')).digest('hex').slice(0, 16)
}

/**
 * Creates the table on the replica from its definition, with every index (the single-stream copy;
 * the parallel copy builds the plain keys of large tables after their rows: KeyBuilds).
 */
export async function createTable(replica: Connection, table: TableInfo, ddl: string): Promise<void> {
  // Unqualified in its text (REFERENCES to the same database too): run it in its database.
  await useDatabase(replica, table)
  await createInCurrentDatabase(replica, {table, ddl, replace: false})
}

/**
 * The CREATE TABLE of each of `tables` (see tableDefinition), in their order, read by `sources` at
 * once, each one statement at a time (a hostile source's answer is then always the answer to the
 * question it was asked on that connection). The first failure stops them all and is thrown.
 */
export async function tableDefinitions(sources: Connection[], tables: TableInfo[]): Promise<string[]> {
  const ddls: string[] = []
  let next = 0
  let failure: {error: unknown} | undefined
  await Promise.all(
    sources.map(async (source) => {
      for (let i = next++; i < tables.length && !failure; i = next++) {
        try {
          ddls[i] = await tableDefinition(source, tables[i]!)
        } catch (error) {
          failure ??= {error}
        }
      }
    }),
  )
  if (failure) throw failure.error
  return ddls
}

/** A table to create on the replica: its definition, and whether a table of its name must go first. */
export interface TableToCreate {
  table: TableInfo
  ddl: string
  replace: boolean
}

/**
 * Creates `items` on the replica, shared among `sessions` (connections without LOAD DATA LOCAL,
 * prepared by prepareDdlSessions, that pipeline) so that the replica creates several at once. A
 * session first makes each database current and waits for that (a failed USE must not leave the
 * next CREATE, unqualified, in another database), then sends that database's CREATEs together.
 */
export async function createTables(sessions: Connection[], items: TableToCreate[]): Promise<void> {
  let failure: {error: unknown} | undefined
  await Promise.all(
    sessions.map(async (session, s) => {
      const mine = items.filter((_, i) => i % sessions.length === s)
      for (const group of groupByDatabase(mine)) {
        // The first failure stops every session at its next database; each waits for what it sent.
        if (failure) return
        const done = await Promise.allSettled([useDatabase(session, group[0]!.table)])
        const created = done[0]!.status === 'fulfilled' ? await Promise.allSettled(group.map((item) => createInCurrentDatabase(session, item))) : done
        const failed = created.find((r) => r.status === 'rejected')
        if (failed) failure ??= {error: failed.reason}
      }
    }),
  )
  if (failure) throw failure.error
}

function groupByDatabase(items: TableToCreate[]): TableToCreate[][] {
  const groups = new Map<string, TableToCreate[]>()
  for (const item of items) {
    const group = groups.get(item.table.database)
    if (group) group.push(item)
    else groups.set(item.table.database, [item])
  }
  return [...groups.values()]
}

async function useDatabase(replica: Connection, table: TableInfo): Promise<void> {
  await replica.query(`USE ${quoteIdentifier(table.database)}`).catch((error: unknown) => {
    throw createError(table, error)
  })
}

async function createInCurrentDatabase(replica: Connection, {table, ddl, replace}: TableToCreate): Promise<void> {
  try {
    if (replace) await replica.query(`DROP TABLE IF EXISTS ${quoteQualified(table.database, table.name)}`)
    await replica.query(ddl)
  } catch (error) {
    throw createError(table, error)
  }
}

function createError(table: TableInfo, error: unknown): DatainError {
  return new DatainError(`Creating the table ${table.database}.${table.name} on the replica failed: ${sqlMessage(error)}.`, {
    code: 'E_SNAPSHOT_LOAD',
    exit: ExitCode.failed,
    cause: error,
  })
}

async function readDefinition(source: Connection, expected: ExpectedObject, sql: string): Promise<string> {
  const what = expected.kind === 'DATABASE' ? `the database ${expected.name}` : `the ${expected.kind.toLowerCase()} ${expected.database}.${expected.name}`
  let text: string | undefined
  try {
    const [row] = (await source.query(sql)) as Array<Record<string, string>>
    text = Object.values(row ?? {})[1]
  } catch (error) {
    throw new DatainError(`Reading the definition of ${what} from the source failed: ${sqlMessage(error)}.`, {code: 'E_SNAPSHOT_DUMP', exit: ExitCode.failed, cause: error})
  }
  // Read in the session prepareDdlSessions sets: backticks, backslash escapes.
  return rewriteHead(String(text ?? ''), expected).sql
}

function sqlMessage(error: unknown): string {
  const e = error as {sqlMessage?: string; message?: string}
  return e?.sqlMessage ?? e?.message ?? String(error)
}

/** A SEQUENCE of the source, which the single-stream copy carries: its definition and, after the rows, its value. */
export interface SequenceInfo {
  database: string
  name: string
}

/**
 * Creates on the replica, through `replica` (a connection without LOAD DATA LOCAL), the databases,
 * their tables with every index and their sequences, as the source defines them; each definition
 * is checked to be exactly the CREATE asked for. For the single-stream copy, whose dump then
 * carries only rows.
 */
export async function createSchema(source: Connection, replica: Connection, databases: string[]): Promise<{tables: TableInfo[]; sequences: SequenceInfo[]}> {
  await prepareDdlSessions(source, replica)
  await createDatabases(source, replica, databases)
  const tables = await listTables(source, databases)
  const sequences = (await source.query(
    `SELECT TABLE_SCHEMA AS \`database\`, TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_TYPE = 'SEQUENCE' AND TABLE_SCHEMA IN (${placeholders(databases.length)}) ORDER BY 1, 2`,
    databases,
  )) as SequenceInfo[]
  for (const table of tables) await createTable(replica, table, await tableDefinition(source, table))
  for (const sequence of sequences) {
    const ddl = await readDefinition(source, {kind: 'SEQUENCE', ...sequence}, `SHOW CREATE SEQUENCE ${quoteQualified(sequence.database, sequence.name)}`)
    await createTable(replica, {...sequence, columns: [], primaryKey: [], estimatedRows: 0, estimatedBytes: 0}, ddl)
  }
  return {tables, sequences}
}

/**
 * Sets each sequence on the replica where the source's stands (its next value past the cache, as
 * mariadb-dump does): read after the rows, it is at or past the snapshot's, and replication then
 * applies the source's later changes, which carry the whole state of the sequence.
 */
export async function copySequenceValues(source: Connection, replica: Connection, sequences: SequenceInfo[]): Promise<void> {
  for (const s of sequences) {
    const name = quoteQualified(s.database, s.name)
    try {
      // As text: a sequence goes to 2^63, past a JavaScript number; SETVAL takes only a literal.
      const [row] = (await source.query(`SELECT CAST(next_not_cached_value AS CHAR) AS n FROM ${name}`)) as Array<{n: string}>
      if (!/^-?\d{1,20}$/.test(row?.n ?? '')) throw new Error(`the source gave ${JSON.stringify(row?.n)} as its value`)
      await replica.query(`SELECT SETVAL(${name}, ${row!.n}, 0)`)
    } catch (error) {
      throw new DatainError(`Setting the sequence ${s.database}.${s.name} on the replica to the source's value failed: ${sqlMessage(error)}.`, {
        code: 'E_SNAPSHOT_LOAD',
        exit: ExitCode.failed,
        cause: error,
      })
    }
  }
}
