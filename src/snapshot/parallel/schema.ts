import {createHash} from 'node:crypto'
import {pipeline} from 'node:stream/promises'
import type {Connection} from 'mariadb'
import {describeClientTool, startClientTool} from '../../lib/child-process.js'
import {DatainError, ExitCode} from '../../lib/errors.js'
import type {ServerAddress} from '../../lib/mariadb.js'
import {placeholders, quoteIdentifier, quoteQualified} from '../../lib/sql.js'
import {LOAD_OPTIONS} from '../copy.js'
import {DumpTransform} from '../dump-transform.js'
import type {TableInfo} from './tables.js'

/**
 * The session settings for reading and writing definitions: plain backtick-quoted DDL whatever
 * sql_mode the source defaults to (ANSI_QUOTES would change it), and on the replica no foreign
 * key checks, so that a table may reference one created later.
 */
export async function prepareDdlSessions(source: Connection, replica: Connection): Promise<void> {
  await source.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', sql_quote_show_create = 1")
  await replica.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', foreign_key_checks = 0")
}

/** Creates the databases on the replica as the source defines them (SHOW CREATE DATABASE), unless they exist. */
export async function createDatabases(source: Connection, replica: Connection, databases: string[]): Promise<void> {
  for (const database of databases) {
    const ddl = await readDefinition(source, `the database ${database}`, `SHOW CREATE DATABASE ${quoteIdentifier(database)}`)
    await replica.query(ddl.replace(/^CREATE DATABASE\s+(?:\/\*!32312 IF NOT EXISTS\s*\*\/\s*)?/i, 'CREATE DATABASE IF NOT EXISTS ')).catch((error: unknown) => {
      throw new DatainError(`Creating the database ${database} on the replica failed: ${sqlMessage(error)}.`, {code: 'E_SNAPSHOT_LOAD', exit: ExitCode.failed, cause: error})
    })
  }
}

/** The table's CREATE TABLE on the source (SHOW CREATE TABLE), with every index. */
export async function tableDefinition(source: Connection, table: TableInfo): Promise<string> {
  return readDefinition(source, `the table ${table.database}.${table.name}`, `SHOW CREATE TABLE ${quoteQualified(table.database, table.name)}`)
}

/**
 * What identifies a table's definition across runs: its CREATE TABLE without the AUTO_INCREMENT
 * counter, which writes move on without changing the table.
 */
export function definitionHash(ddl: string): string {
  return createHash('sha256').update(ddl.replace(/ AUTO_INCREMENT=\d+/, '')).digest('hex').slice(0, 16)
}

/**
 * Creates the table on the replica from its definition, with every index: building secondary
 * indexes after the rows measured slower here (see the README's performance section).
 */
export async function createTable(replica: Connection, table: TableInfo, ddl: string): Promise<void> {
  try {
    // Unqualified in its text (REFERENCES to the same database too): run it in its database.
    await replica.query(`USE ${quoteIdentifier(table.database)}`)
    await replica.query(ddl)
  } catch (error) {
    throw new DatainError(`Creating the table ${table.database}.${table.name} on the replica failed: ${sqlMessage(error)}.`, {
      code: 'E_SNAPSHOT_LOAD',
      exit: ExitCode.failed,
      cause: error,
    })
  }
}

async function readDefinition(source: Connection, what: string, sql: string): Promise<string> {
  try {
    const [row] = (await source.query(sql)) as Array<Record<string, string>>
    return Object.values(row ?? {})[1] ?? ''
  } catch (error) {
    throw new DatainError(`Reading the definition of ${what} from the source failed: ${sqlMessage(error)}.`, {code: 'E_SNAPSHOT_DUMP', exit: ExitCode.failed, cause: error})
  }
}

function sqlMessage(error: unknown): string {
  const e = error as {sqlMessage?: string; message?: string}
  return e?.sqlMessage ?? e?.message ?? String(error)
}

/** mariadb-dump's options for the objects that come after the rows (DEFINERs fixed by the transform). */
export function objectsDumpArgs(databases: string[]): string[] {
  return [
    '--no-data',
    '--no-create-info',
    '--routines',
    '--events',
    '--triggers',
    '--skip-add-locks',
    '--default-character-set=utf8mb4',
    '--comments',
    '--databases',
    '--',
    ...databases,
  ]
}

/** mariadb-dump's options for the views of one database. */
export function viewsDumpArgs(database: string, views: string[]): string[] {
  return ['--no-data', '--skip-triggers', '--skip-add-locks', '--default-character-set=utf8mb4', '--comments', '--', database, ...views]
}

/**
 * Creates, after the rows, what mariadb-dump knows best how to write: routines and events, the
 * triggers (now, so that they do not fire for the copied rows: the source's rows already hold what
 * they did), then the views. Through the same transform as the streamed copy: DEFINER clauses
 * removed, statements that need SUPER dropped, events DISABLE ON SLAVE.
 */
export async function createObjects(options: {
  source: ServerAddress
  replica: ServerAddress
  databases: string[]
  /** The source's views, by database. */
  views: Array<{database: string; name: string}>
  signal: AbortSignal
}): Promise<{definers: number}> {
  let definers = 0
  definers += await dumpInto(options, objectsDumpArgs(options.databases), undefined, 'create the routines, events and triggers')
  for (const database of options.databases) {
    const names = options.views.filter((v) => v.database === database).map((v) => v.name)
    if (names.length > 0) definers += await dumpInto(options, viewsDumpArgs(database, names), database, `create the views of ${database}`)
  }
  return {definers}
}

/** The views of `databases` on the source. */
export async function listViews(source: Connection, databases: string[]): Promise<Array<{database: string; name: string}>> {
  return (await source.query(
    `SELECT TABLE_SCHEMA AS \`database\`, TABLE_NAME AS name FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN (${placeholders(databases.length)}) ORDER BY 1, 2`,
    databases,
  )) as Array<{database: string; name: string}>
}

/** The command lines of {@link createObjects}, for --dry-run. */
export function describeObjects(source: ServerAddress, replica: ServerAddress, databases: string[]): string {
  return `${describeClientTool({tool: 'mariadb-dump', address: source, args: objectsDumpArgs(databases)})} | <datain's transform> | ${describeClientTool({tool: 'mariadb', address: replica, args: [...LOAD_OPTIONS]})}`
}

async function dumpInto(
  options: {source: ServerAddress; replica: ServerAddress; signal: AbortSignal},
  args: string[],
  database: string | undefined,
  purpose: string,
): Promise<number> {
  const load = await startClientTool({
    tool: 'mariadb',
    role: 'replica',
    address: options.replica,
    // The views' dump has no USE: the loader starts in their database.
    args: [...LOAD_OPTIONS, ...(database === undefined ? [] : [`--database=${database}`])],
    purpose,
    signal: options.signal,
    stdin: 'pipe',
    errorCode: 'E_SNAPSHOT_LOAD',
  })
  const dump = await startClientTool({
    tool: 'mariadb-dump',
    role: 'source',
    address: options.source,
    args,
    purpose: `read what it takes to ${purpose}`,
    signal: options.signal,
    stdout: 'pipe',
    errorCode: 'E_SNAPSHOT_DUMP',
  }).catch(async (error: unknown) => {
    await load.stop()
    throw error
  })
  const transform = new DumpTransform()
  load.stdin!.on('error', () => {})
  try {
    await pipeline(dump.stdout!, transform, load.stdin!, {end: false})
    await dump.done
    if (!transform.completed) {
      throw new DatainError('mariadb-dump ended before its closing `-- Dump completed` line: the routines, triggers, events or views may be incomplete. Run datain start again.', {
        code: 'E_SNAPSHOT_TRUNCATED',
        exit: ExitCode.failed,
      })
    }
    load.stdin!.end()
    await load.done
    return transform.rewrites.definers
  } catch (error) {
    await Promise.allSettled([dump.stop(), load.stop()])
    // The loader's own words first: when it fails, the dump only sees a closed pipe.
    const own = async (tool: {done: Promise<void>}) => {
      const e = await tool.done.then(
        () => undefined,
        (failure: unknown) => failure,
      )
      return (e as DatainError | undefined)?.code === 'E_CLIENT_STOPPED' ? undefined : e
    }
    throw (await own(load)) ?? (await own(dump)) ?? error
  } finally {
    await Promise.allSettled([dump.stop(), load.stop()])
  }
}
