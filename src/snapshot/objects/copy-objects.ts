import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../../lib/errors.js'
import {connectionLost} from '../../lib/mariadb.js'
import {placeholders, quoteIdentifier, quoteQualified} from '../../lib/sql.js'
import {type ExpectedObject, rewriteHead} from './statement-head.js'
import {lexOptions} from './tokens.js'

export type ObjectType = 'PROCEDURE' | 'FUNCTION' | 'PACKAGE' | 'PACKAGE BODY' | 'TRIGGER' | 'EVENT' | 'VIEW'

/** A routine, trigger, event or view of the source, read and checked, ready to be created on the replica. */
export interface SourceObject extends ExpectedObject {
  kind: ObjectType
  /** The source's SHOW CREATE statement, its head rewritten (see rewriteHead). */
  sql: string
  /** The session the body was written in: it changes how the server parses it. */
  sqlMode: string
  characterSetClient: string
  collationConnection: string
  /** An event's time zone: STARTS and ENDS are read in it. */
  timeZone?: string
  /** The body as the source's information_schema shows it, to compare with the replica's (null: not visible). */
  body: string | null
  definerRemoved: boolean
  eventDisabled: boolean
}

export interface ObjectsCreated {
  routines: number
  triggers: number
  events: number
  views: number
  /** DEFINER clauses removed (the replica's admin became the definer). */
  definers: number
  /** Events made DISABLE ON SLAVE. */
  eventsDisabledOnSlave: number
}

/** What each type's SHOW CREATE answers, and where information_schema keeps its body. */
const SHAPES: Record<ObjectType, {statement: string; bodyQuery: string}> = {
  PROCEDURE: {
    statement: 'Create Procedure',
    bodyQuery: "SELECT ROUTINE_DEFINITION AS body FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'PROCEDURE' AND ROUTINE_SCHEMA = ? AND ROUTINE_NAME = ?",
  },
  FUNCTION: {
    statement: 'Create Function',
    bodyQuery: "SELECT ROUTINE_DEFINITION AS body FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'FUNCTION' AND ROUTINE_SCHEMA = ? AND ROUTINE_NAME = ?",
  },
  PACKAGE: {
    statement: 'Create Package',
    bodyQuery: "SELECT ROUTINE_DEFINITION AS body FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'PACKAGE' AND ROUTINE_SCHEMA = ? AND ROUTINE_NAME = ?",
  },
  'PACKAGE BODY': {
    statement: 'Create Package Body',
    bodyQuery: "SELECT ROUTINE_DEFINITION AS body FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'PACKAGE BODY' AND ROUTINE_SCHEMA = ? AND ROUTINE_NAME = ?",
  },
  TRIGGER: {statement: 'SQL Original Statement', bodyQuery: 'SELECT ACTION_STATEMENT AS body FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? AND TRIGGER_NAME = ?'},
  EVENT: {statement: 'Create Event', bodyQuery: 'SELECT EVENT_DEFINITION AS body FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? AND EVENT_NAME = ?'},
  VIEW: {statement: 'Create View', bodyQuery: 'SELECT VIEW_DEFINITION AS body FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?'},
}

/**
 * Reads the routines, triggers, events and views of `databases` from the source, one SHOW CREATE
 * each, and checks every answer (see rewriteHead): a hostile or broken one fails here, before
 * anything reaches the replica. Triggers in their firing order, so that creating them in this
 * order keeps it.
 */
export async function readObjects(source: Connection, databases: string[]): Promise<SourceObject[]> {
  if (databases.length === 0) return []
  // Heads written with backticks whatever the session defaulted to (ANSI_QUOTES would change them).
  await source.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', sql_quote_show_create = 1")
  const list = placeholders(databases.length)
  const listed = (await source.query(
    `SELECT ROUTINE_TYPE AS kind, ROUTINE_SCHEMA AS db, ROUTINE_NAME AS name, ROUTINE_DEFINITION AS body, 1 AS o1, '' AS o2, '' AS o3, 0 AS o4
       FROM information_schema.ROUTINES WHERE ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION', 'PACKAGE', 'PACKAGE BODY') AND ROUTINE_SCHEMA IN (${list})
     UNION ALL SELECT 'EVENT', EVENT_SCHEMA, EVENT_NAME, EVENT_DEFINITION, 2, '', '', 0 FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN (${list})
     UNION ALL SELECT 'VIEW', TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION, 3, '', '', 0 FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN (${list})
     UNION ALL SELECT 'TRIGGER', TRIGGER_SCHEMA, TRIGGER_NAME, ACTION_STATEMENT, 4, EVENT_OBJECT_TABLE, CONCAT(ACTION_TIMING, EVENT_MANIPULATION), ACTION_ORDER
       FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN (${list})
     ORDER BY o1, db, o2, o3, o4, name`,
    [...databases, ...databases, ...databases, ...databases],
  )) as Array<{kind: ObjectType; db: string; name: string; body: string | null}>
  const objects: SourceObject[] = []
  for (const o of listed) objects.push(await readObject(source, o.kind, o.db, o.name, o.body))
  return objects
}

async function readObject(source: Connection, kind: ObjectType, database: string, name: string, body: string | null): Promise<SourceObject> {
  const what = `the ${kind.toLowerCase()} ${database}.${name}`
  let row: Record<string, string | null> | undefined
  try {
    ;[row] = (await source.query(`SHOW CREATE ${kind} ${quoteQualified(database, name)}`)) as Array<Record<string, string | null>>
  } catch (error) {
    throw new DatainError(`Reading the definition of ${what} from the source failed: ${sqlMessage(error)}.`, {code: 'E_SNAPSHOT_DUMP', exit: ExitCode.failed, cause: error})
  }
  const statement = row?.[SHAPES[kind].statement]
  if (typeof statement !== 'string') {
    throw new DatainError(
      `The source shows no definition of ${what} to datain's user (SHOW CREATE ${kind} gave none): it needs SELECT on mysql.proc, SHOW VIEW, TRIGGER or EVENT on that database to read it.`,
      {code: 'E_SNAPSHOT_DUMP', exit: ExitCode.failed},
    )
  }
  // A view is written in the reading session's mode; the others keep the mode they were created in.
  const sqlMode = kind === 'VIEW' ? 'NO_AUTO_VALUE_ON_ZERO' : String(row?.sql_mode ?? '')
  const rewritten = rewriteHead(statement, {kind, database, name}, lexOptions(sqlMode))
  return {
    kind,
    database,
    name,
    sql: rewritten.sql,
    sqlMode,
    characterSetClient: String(row?.character_set_client ?? 'utf8mb4'),
    collationConnection: String(row?.collation_connection ?? 'utf8mb4_general_ci'),
    ...(kind === 'EVENT' ? {timeZone: String(row?.time_zone ?? 'SYSTEM')} : {}),
    body,
    definerRemoved: rewritten.definerRemoved,
    eventDisabled: rewritten.eventDisabled,
  }
}

/**
 * Creates `objects` on the replica, one statement per query, on `replica`: a connection that
 * allows neither several statements per query nor LOAD DATA LOCAL (connectTo), so that nothing
 * the source wrote into a body can run as a statement of its own. Each one in its database, in
 * the session it was written in (sql_mode, character set, time zone), its body checked against
 * the source's afterwards. Routines first (views may call them), then views (those a failing view
 * needs are created first: retried while some succeed), triggers, events. Call it after the rows:
 * a trigger must not fire for the copied ones.
 */
export async function createObjects(replica: Connection, objects: SourceObject[]): Promise<ObjectsCreated> {
  try {
    return await createEach(replica, objects)
  } catch (error) {
    // A KILL, a restart or a network cut, not the object's fault: exit 4 and "run again", as for the rows' connections.
    const lost = [error, (error as {cause?: unknown})?.cause].find(connectionLost)
    if (!lost) throw error
    throw new DatainError(
      `datain lost its connection to the replica while it created the routines, triggers, events and views (${sqlMessage(lost)}). ` +
        "Check that the replica is up, then run 'datain start' again: it takes the copy up again.",
      {code: 'E_REPLICA_CONNECTION', exit: ExitCode.unreachable, cause: error},
    )
  }
}

async function createEach(replica: Connection, objects: SourceObject[]): Promise<ObjectsCreated> {
  const of = (kind: ObjectType) => objects.filter((o) => o.kind === kind)
  // The connector encodes statements in the character set the server reports through session
  // tracking; on a server whose default tracks nothing, a body would go in the wrong encoding.
  await replica.query("SET SESSION session_track_system_variables = 'autocommit,character_set_client,character_set_connection,character_set_results,time_zone'")
  const [session] = (await replica.query('SELECT @@SESSION.sql_mode AS mode, @@SESSION.time_zone AS zone')) as Array<{mode: string; zone: string}>
  // Between objects, and for datain's own queries (in ORACLE mode `body` is a reserved word), the session datain had.
  const restore = () => replica.query('SET NAMES utf8mb4, SESSION sql_mode = ?, time_zone = ?', [session!.mode, session!.zone])
  const createObject = (o: SourceObject) => createOne(replica, o, restore)
  try {
    // A package body needs its package (Oracle mode's PACKAGE, 10.3+).
    for (const o of [...of('PACKAGE'), ...of('PACKAGE BODY'), ...of('PROCEDURE'), ...of('FUNCTION')]) await createObject(o)
    let views = of('VIEW')
    while (views.length > 0) {
      const failed: Array<{view: SourceObject; error: unknown}> = []
      for (const view of views) {
        await createObject(view).catch((error: unknown) => {
          // 1146: a view it selects from does not exist yet.
          if ((error as {cause?: {errno?: number}}).cause?.errno !== 1146) throw error
          failed.push({view, error})
        })
      }
      if (failed.length === views.length) throw failed[0]!.error
      views = failed.map((f) => f.view)
    }
    for (const o of [...of('TRIGGER'), ...of('EVENT')]) await createObject(o)
  } finally {
    await restore().catch(() => {})
  }
  return {
    routines: of('PROCEDURE').length + of('FUNCTION').length + of('PACKAGE').length + of('PACKAGE BODY').length,
    triggers: of('TRIGGER').length,
    events: of('EVENT').length,
    views: of('VIEW').length,
    definers: objects.filter((o) => o.definerRemoved).length,
    eventsDisabledOnSlave: objects.filter((o) => o.eventDisabled).length,
  }
}

async function createOne(replica: Connection, o: SourceObject, restore: () => Promise<unknown>): Promise<void> {
  const what = `the ${o.kind.toLowerCase()} ${o.database}.${o.name}`
  try {
    await replica.query(`USE ${quoteIdentifier(o.database)}`)
    // The connector follows character_set_client (session tracking): the statement goes in the body's own encoding.
    await replica.query('SET SESSION sql_mode = ?, character_set_client = ?, collation_connection = ?, time_zone = ?', [
      o.sqlMode,
      o.characterSetClient,
      o.collationConnection,
      o.timeZone ?? 'SYSTEM',
    ])
    await replica.query(o.sql)
    await restore()
  } catch (error) {
    throw new DatainError(`Creating ${what} on the replica failed: ${sqlMessage(error)}.`, {code: 'E_SNAPSHOT_LOAD', exit: ExitCode.failed, cause: error})
  }
  if (o.body === null) return
  const [row] = (await replica.query(SHAPES[o.kind].bodyQuery, [o.database, o.name])) as Array<{body: string | null}>
  if (row?.body !== o.body) {
    throw new DatainError(
      `${what[0]!.toUpperCase()}${what.slice(1)} was created on the replica with a body that differs from the source's, so the copy stopped there. ` +
        "Compare SHOW CREATE on both servers (a character set the replica lacks?), then run 'datain start' again: it drops what this copy created and copies afresh.",
      {code: 'E_SNAPSHOT_OBJECT_DIFFERS', exit: ExitCode.failed},
    )
  }
}

function sqlMessage(error: unknown): string {
  const e = error as {sqlMessage?: string; message?: string}
  return e?.sqlMessage ?? e?.message ?? String(error)
}
