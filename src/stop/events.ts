import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../lib/errors.js'
import {placeholders, quoteQualified} from '../lib/sql.js'

/** What {@link enableReplicaEvents} did. */
export interface EventsEnabled {
  /** `db.event` of every event enabled now. */
  enabled: string[]
  /** `@@global.event_scheduler` on the replica: events run only when it is ON. */
  scheduler: string
  /** `@@global.read_only` on the replica: while ON, the application cannot write to it (replicas are often kept so). */
  readOnly: boolean
}

/**
 * Enables on the replica, now a standalone server, the events that were `DISABLE ON SLAVE`
 * (STATUS `SLAVESIDE_DISABLED`): those the snapshot disabled so that they would run only on the
 * source, and those created on the source later, which the replica disables as it applies them.
 * Only in `databases` (the copied ones; every database when empty). ALTER EVENT makes the admin
 * their definer, as the copy already did. Safe to repeat: an enabled event is not listed again.
 */
export async function enableReplicaEvents(replica: Connection, databases: string[]): Promise<EventsEnabled> {
  const where = databases.length > 0 ? ` AND EVENT_SCHEMA IN (${placeholders(databases.length)})` : ''
  const rows = (await replica.query(
    `SELECT EVENT_SCHEMA AS db, EVENT_NAME AS name FROM information_schema.EVENTS WHERE STATUS = 'SLAVESIDE_DISABLED'${where} ORDER BY EVENT_SCHEMA, EVENT_NAME`,
    databases,
  )) as Array<{db: string; name: string}>
  const enabled: string[] = []
  const failed: string[] = []
  for (const {db, name} of rows) {
    try {
      await replica.query(`ALTER EVENT ${quoteQualified(db, name)} ENABLE`)
      enabled.push(`${db}.${name}`)
    } catch (error) {
      failed.push(`${db}.${name} (${(error as {sqlMessage?: string}).sqlMessage ?? (error as Error).message})`)
    }
  }
  if (failed.length > 0) {
    throw new DatainError(
      `The replica refused to enable ${failed.length === 1 ? 'the event' : 'the events'} ${failed.join(', ')}` +
        (enabled.length > 0 ? ` (it enabled ${enabled.join(', ')})` : '') +
        '. The link is removed all the same. Enable them by hand (ALTER EVENT db.name ENABLE) as an account with the EVENT privilege on their database, ' +
        "or run the same 'datain stop --cutover' again once that is fixed.",
      {code: 'E_EVENTS', exit: ExitCode.failed},
    )
  }
  const [row] = (await replica.query('SELECT @@global.event_scheduler AS s, @@global.read_only AS ro')) as Array<{s: string; ro: number | string}>
  return {enabled, scheduler: String(row?.s ?? 'unknown'), readOnly: Number(row?.ro ?? 0) === 1}
}
