import {quoteIdentifier} from '../lib/sql.js'
import {userDatabases} from '../preflight/context.js'
import {describeCopy} from '../snapshot/single-stream.js'
import {TRUST} from './snapshot-run.js'
import type {PlannedAction, StepContext} from './step.js'

const SCHEMA_ACTION: PlannedAction = {
  on: 'replica',
  kind: 'sql',
  text:
    'CREATE DATABASE … / CREATE TABLE … / CREATE SEQUENCE …  -- as SHOW CREATE on the source, with their indexes, each checked to create exactly the object asked for, ' +
    'one statement per query on a connection that allows no LOAD DATA LOCAL',
}

const OBJECTS_ACTION: PlannedAction = {
  on: 'replica',
  kind: 'sql',
  text:
    'CREATE PROCEDURE / FUNCTION / VIEW / TRIGGER / EVENT …  -- after the rows (so triggers do not fire for them), as SHOW CREATE on the source, one statement per query ' +
    'in the object\'s own sql_mode and character set, no mariadb-dump, no delimiters; only the head changes: DEFINER clauses removed (the replica admin becomes the definer), ' +
    'events made DISABLE ON SLAVE; the body is the source\'s byte for byte, checked after',
}

/** What the snapshot would do, for --dry-run: SQL, the ARM call, both command lines (password `***`), the transform. */
export async function planSnapshot(ctx: StepContext<'snapshot'>): Promise<PlannedAction[]> {
  let databases = ctx.settings.databases
  if (databases.length === 0) {
    try {
      databases = await userDatabases(await ctx.source())
    } catch {
      databases = []
    }
  }
  const shownDatabases = databases.length > 0 ? databases : ['<every database of the source but the system ones>']
  const actions: PlannedAction[] = []
  for (const database of ctx.previous?.output?.createdDatabases ?? []) {
    actions.push({on: 'replica', kind: 'sql', text: `DROP DATABASE IF EXISTS ${quoteIdentifier(database)}  -- left by an unfinished copy`})
  }
  actions.push({
    on: 'replica',
    kind: 'check',
    text: ctx.run.replaceDatabases
      ? `the selected databases that already exist on the replica are dropped and copied again (--replace-databases, this run only): DROP DATABASE IF EXISTS …`
      : `none of ${shownDatabases.join(', ')} exists on the replica yet`,
  })
  actions.push(ctx.target.parameters.plan(TRUST, 'ON', 'only if the copy holds functions or triggers (error 1419 otherwise)'))
  if (ctx.parallel !== 1) {
    const threads = ctx.parallel === undefined ? 'N (one per core, 2 to 8, within both servers’ spare connections)' : String(ctx.parallel)
    actions.push(
      {
        on: 'source',
        kind: 'sql',
        text:
          'BACKUP STAGE START; BACKUP STAGE BLOCK_COMMIT (FLUSH TABLES WITH READ LOCK before 10.4); ' +
          `START TRANSACTION WITH CONSISTENT SNAPSHOT on ${threads} connections at once; BACKUP STAGE END  -- commits wait the milliseconds this takes; ` +
          "every SHOW STATUS LIKE 'binlog_snapshot_%' must agree; SELECT BINLOG_GTID_POS(file, position)",
      },
      SCHEMA_ACTION,
      {
        on: 'replica',
        kind: 'sql',
        text:
          "LOAD DATA LOCAL INFILE 'datain-rows' INTO TABLE … CHARACTER SET binary  -- per table, large tables in ranges of their primary key, " +
          'rows streamed from SELECT CAST(… AS BINARY) in the snapshot, at most 500 kB a statement, every row and warning checked',
      },
      OBJECTS_ACTION,
      {on: 'local', kind: 'note', text: '--parallel 1 copies the rows in one stream of mariadb-dump into mariadb instead.'},
    )
    return actions
  }
  const commands = describeCopy({source: ctx.sourceAddress, replica: ctx.replicaAddress, databases: shownDatabases})
  actions.push(
    SCHEMA_ACTION,
    {on: 'local', kind: 'process', text: `${commands.dump} | <datain's check> | ${commands.load}`},
    {
      on: 'local',
      kind: 'note',
      text:
        'the dump carries rows only, passed through unchanged with no file on disk: binlog file/position and GTID read from its comments, rows counted; ' +
        'any statement a dump of rows does not hold (only session SETs, USE, LOCK/UNLOCK TABLES, ALTER TABLE … KEYS and INSERT pass) stops the copy before the replica runs it.',
    },
    {on: 'replica', kind: 'sql', text: 'SELECT SETVAL(…, <next value not cached on the source>, 0)  -- per sequence, after the rows'},
    OBJECTS_ACTION,
  )
  return actions
}
