/**
 * The kills group's part about the indexes built after the rows (DATAIN_KEYS_AFTER_ROWS_MB): a table
 * whose plain indexes take the replica a moment to build, kills aimed at those builds, and the
 * check that every table on the replica is defined as on the source (a table left without an index
 * has the same rows and checksum: only SHOW CREATE TABLE tells).
 */
import {setTimeout as sleep} from 'node:timers/promises'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import {quoteIdentifier} from '../../src/lib/sql.js'
import {type Background, userDatabases} from './lib.js'

/** On the source before init: rows enough that adding its indexes lasts a few hundred ms. */
export function keyedTableStatements(rows: number): string[] {
  return [
    'DROP TABLE IF EXISTS shop.kills_keyed',
    `CREATE TABLE shop.kills_keyed (id INT NOT NULL PRIMARY KEY, a VARCHAR(64) NOT NULL, b INT NULL, c VARCHAR(40) NOT NULL,
      KEY ix_a (a), KEY ix_ba (b, a) COMMENT 'built after the rows', KEY ix_c (c(12) DESC), UNIQUE KEY u_c (c)) ENGINE=InnoDB`,
    `INSERT INTO shop.kills_keyed SELECT seq, MD5(seq), IF(seq % 11 = 0, NULL, seq % 977), CONCAT('c', seq) FROM shop.seq_1_to_${Math.max(1, Math.floor(rows))}`,
    'ANALYZE TABLE shop.kills_keyed',
  ]
}

/** An ALTER TABLE … ADD KEY that datain (not root) runs on the replica: its state, or undefined. */
export async function buildRunning(sandbox: AnySandbox): Promise<string | undefined> {
  const rows = await sandbox.replica.server.query<Array<{state: string | null}>>(
    "SELECT STATE AS state FROM information_schema.PROCESSLIST WHERE USER <> 'root' AND INFO LIKE 'ALTER TABLE %ADD %KEY%'",
  )
  return rows[0] ? (rows[0].state ?? '') : undefined
}

/** Waits until an index build shows on the replica (its state), the run ends, or `timeoutMs` (undefined then). */
export async function awaitBuild(sandbox: AnySandbox, run: Background, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && run.child.exitCode === null && run.child.signalCode === null) {
    const state = await buildRunning(sandbox).catch(() => undefined)
    if (state !== undefined) return state
    await sleep(5)
  }
  return undefined
}

/** The tables (SHOW CREATE TABLE, AUTO_INCREMENT's counter aside) that differ between source and replica, or undefined. */
export async function definitionsDiff(sandbox: AnySandbox): Promise<string | undefined> {
  const databases = await userDatabases(sandbox.source.server)
  const read = async (server: AnySandbox['source']['server']) => {
    const out = new Map<string, string>()
    for (const db of databases) {
      const tables = await server.query<Array<{t: string}>>("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", [db])
      for (const {t} of tables) {
        const [row] = await server.query<Array<Record<string, string>>>(`SHOW CREATE TABLE ${quoteIdentifier(db)}.${quoteIdentifier(t)}`)
        out.set(`${db}.${t}`, (row?.['Create Table'] ?? '').replace(/ AUTO_INCREMENT=\d+/, ''))
      }
    }
    return out
  }
  const [source, replica] = [await read(sandbox.source.server), await read(sandbox.replica.server)]
  const diffs = [...new Set([...source.keys(), ...replica.keys()])].filter((t) => source.get(t) !== replica.get(t))
  return diffs.length === 0 ? undefined : diffs.map((t) => `${t}: source\n${source.get(t) ?? '(none)'}\nreplica\n${replica.get(t) ?? '(none)'}`).join('\n')
}
