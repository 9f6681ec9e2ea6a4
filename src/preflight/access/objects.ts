import type {Connection} from 'mariadb'
import {placeholders} from '../../lib/sql.js'
import type {PreflightContext} from '../check.js'
import {sharedAnswer} from '../shared.js'

export type ObjectKind = 'VIEW' | 'FUNCTION' | 'PROCEDURE' | 'PACKAGE' | 'PACKAGE BODY' | 'TRIGGER' | 'EVENT'

/** A view, routine, trigger or event of a selected database, as information_schema shows it. */
export interface StoredObject {
  kind: ObjectKind
  database: string
  name: string
  /** `user@host` (a role: no `@`). */
  definer: string
  /** Views and routines: DEFINER or INVOKER. Triggers and events always run as their definer. */
  security: 'DEFINER' | 'INVOKER'
  /** The body, when this account may read it (NULL otherwise). */
  body: string | null
}

/** The stored objects of the selected databases, read once per preflight run (three checks look at them). */
export function selectedObjects(ctx: Pick<PreflightContext, 'source' | 'databases' | 'shared'>): Promise<StoredObject[]> {
  return sharedAnswer(ctx, 'stored-objects', () => storedObjects(ctx.source, ctx.databases))
}

/** Every view, routine, trigger and event of `databases`, sorted by database, kind and name. */
export async function storedObjects(source: Connection, databases: string[]): Promise<StoredObject[]> {
  if (databases.length === 0) return []
  const inList = placeholders(databases.length)
  const queries = [
    `SELECT 'VIEW' AS kind, TABLE_SCHEMA AS db, TABLE_NAME AS name, DEFINER AS definer, SECURITY_TYPE AS security, VIEW_DEFINITION AS body
     FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN (${inList})`,
    `SELECT ROUTINE_TYPE AS kind, ROUTINE_SCHEMA AS db, ROUTINE_NAME AS name, DEFINER AS definer, SECURITY_TYPE AS security, ROUTINE_DEFINITION AS body
     FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN (${inList})`,
    `SELECT 'TRIGGER' AS kind, TRIGGER_SCHEMA AS db, TRIGGER_NAME AS name, DEFINER AS definer, 'DEFINER' AS security, ACTION_STATEMENT AS body
     FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN (${inList})`,
    `SELECT 'EVENT' AS kind, EVENT_SCHEMA AS db, EVENT_NAME AS name, DEFINER AS definer, 'DEFINER' AS security, EVENT_DEFINITION AS body
     FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN (${inList})`,
  ]
  const objects: StoredObject[] = []
  for (const sql of queries) {
    const rows: Array<{kind: string; db: string; name: string; definer: string; security: string; body: string | null}> = await source.query(sql, databases)
    for (const r of rows) {
      objects.push({
        kind: r.kind.toUpperCase() as ObjectKind,
        database: r.db,
        name: r.name,
        definer: r.definer,
        security: r.security.toUpperCase() === 'INVOKER' ? 'INVOKER' : 'DEFINER',
        body: r.body,
      })
    }
  }
  const order: ObjectKind[] = ['VIEW', 'FUNCTION', 'PROCEDURE', 'PACKAGE', 'PACKAGE BODY', 'TRIGGER', 'EVENT']
  return objects.sort(
    (a, b) => compare(a.database, b.database) || order.indexOf(a.kind) - order.indexOf(b.kind) || compare(a.name, b.name),
  )
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
