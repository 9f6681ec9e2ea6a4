/**
 * The replica's limit: what its server alone ingests, with nothing of datain's path in the way.
 *
 * The same rows, encoded as datain encodes them (each column's bytes, tab-separated, `\` escapes,
 * `CHARACTER SET binary`), are written beforehand as files of datain's statement size into the
 * replica server's own `secure_file_priv` folder, the tables created beforehand from the source's
 * `SHOW CREATE TABLE`; then the timed part: `threads` sessions as root over the replica's unix
 * socket (not through the gateway: no network, no TLS, no source), with datain's session settings,
 * each taking the next table and loading its files with `LOAD DATA INFILE`, one statement a
 * transaction as datain does. A table datain creates without its plain keys (KeyBuilds) is created
 * so here too, and its keys are built after its rows by the same ALTER TABLE, timed: the limit is
 * what the replica's server does for datain's copy, on its own.
 */
import {mkdir, readFile, rm, writeFile} from 'node:fs/promises'
import path from 'node:path'
import type {Sandbox} from '../../sandbox/sandbox.js'
import {DEFAULT_BATCH_BYTES, REPLICA_LOAD_SESSION} from '../../src/snapshot/parallel/copy-plan.js'
import {addKeysStatement} from '../../src/snapshot/parallel/deferred-keys.js'
import {keysAfterRows} from '../../src/snapshot/parallel/key-builds.js'
import {listTables} from '../../src/snapshot/parallel/tables.js'
import {DATABASE, tableNames} from './data.js'
import type {Measured} from './report.js'

const NEWLINE = 0x0a
const BACKSLASH = 0x5c
const FORMAT = "CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'"

export interface LimitFiles {
  /** Each table with its files (in the replica's secure_file_priv folder) and the rows of each. */
  units: Array<{table: string; files: Array<{file: string; rows: number}>; addKeys?: string}>
  bytes: number
  dir: string
}

/** Writes the files and creates the tables on the replica (not timed). */
export async function prepareLimit(sandbox: Sandbox, tables: number, batchBytes = DEFAULT_BATCH_BYTES): Promise<LimitFiles> {
  const source = sandbox.source.server
  const replica = sandbox.replica.server
  // The servers' own secure_file_priv folders (sandbox/mariadb-server.ts: <dir>/files/).
  const exported = path.join(source.dir, 'files', 'limit-export')
  const dir = path.join(replica.dir, 'files', 'limit')
  await rm(dir, {recursive: true, force: true})
  await mkdir(dir, {recursive: true})
  const [database] = await source.query<Array<Record<string, string>>>(`SHOW CREATE DATABASE \`${DATABASE}\``)
  await replica.execute([`DROP DATABASE IF EXISTS \`${DATABASE}\``, database!['Create Database']!])
  const units: LimitFiles['units'] = []
  let bytes = 0
  const conn = await source.connectAsRoot()
  try {
    // The session datain reads definitions in (see prepareDdlSessions), so that deferKeys reads the same text.
    await conn.query("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', sql_quote_show_create = 1")
    // datain's own estimates of the tables' sizes, which decide as they do for the copy.
    const sizes = new Map((await listTables(conn, [DATABASE])).map((info) => [info.name, info]))
    for (const [t, table] of tableNames(tables).entries()) {
      const [create] = await conn.query<Array<Record<string, string>>>(`SHOW CREATE TABLE ${table}`)
      const info = sizes.get(`sbtest${t + 1}`)
      const deferred = info && keysAfterRows(info, create!['Create Table']!)
      await replica.execute([`USE \`${DATABASE}\``, deferred?.create ?? create!['Create Table']!])
      await rm(exported, {force: true})
      // Every column of the benchmark's tables is an integer or text: SELECT * writes the bytes
      // datain's CAST(… AS BINARY) reads (BIT and FLOAT, which it treats apart, are absent).
      await conn.query(`SELECT * FROM ${table} INTO OUTFILE ${quoteString(exported)} ${FORMAT}`)
      const data = await readFile(exported)
      bytes += data.length
      const files = []
      for (const [i, piece] of split(data, batchBytes).entries()) {
        const file = path.join(dir, `t${t + 1}-${i}.tsv`)
        await writeFile(file, piece.bytes)
        files.push({file, rows: piece.rows})
      }
      units.push({table, files, addKeys: deferred && addKeysStatement(DATABASE, `sbtest${t + 1}`, deferred.keys)})
    }
  } finally {
    await conn.end()
    await rm(exported, {force: true})
  }
  return {units, bytes, dir}
}

/** The timed part: `threads` root sessions on the replica's socket, each loading a table's files at a time. */
export async function runLimit(sandbox: Sandbox, prepared: LimitFiles, threads: number): Promise<Measured> {
  const replica = sandbox.replica.server
  const sessions = await Promise.all(Array.from({length: threads}, () => replica.connectAsRoot()))
  const queue = [...prepared.units]
  let statements = 0
  try {
    // datain's replica sessions, the very settings.
    await Promise.all(sessions.map((s) => s.query(REPLICA_LOAD_SESSION)))
    const started = performance.now()
    await Promise.all(
      sessions.map(async (session) => {
        for (let unit = queue.shift(); unit; unit = queue.shift()) {
          for (const {file, rows} of unit.files) {
            const result = (await session.query(`LOAD DATA INFILE ${quoteString(file)} INTO TABLE ${unit.table} ${FORMAT}`)) as {affectedRows: number; warningStatus: number}
            if (result.affectedRows !== rows || result.warningStatus !== 0) {
              throw new Error(`LOAD DATA INFILE of ${file}: ${result.affectedRows} rows of ${rows}, ${result.warningStatus} warnings`)
            }
            statements++
          }
          if (unit.addKeys) await session.query(unit.addKeys)
        }
      }),
    )
    const seconds = (performance.now() - started) / 1000
    return {
      seconds,
      note:
        `the replica's server alone: ${statements} LOAD DATA INFILE of ${(prepared.bytes / 1024 / 1024).toFixed(0)} MB of local files (datain's encoding and statement size) ` +
        `by ${threads} root sessions on its unix socket, NOT through the gateway (no network, no TLS, no source); tables created beforehand, not timed; ` +
        `${prepared.units.filter((u) => u.addKeys).length} tables' plain keys built after their rows (timed), as datain builds them`,
    }
  } finally {
    await Promise.all(sessions.map((s) => s.end().catch(() => s.destroy())))
    await rm(prepared.dir, {recursive: true, force: true})
  }
}

/**
 * Cuts LOAD DATA text into pieces of at least `size` bytes, each ending with a whole line: at a
 * newline not escaped (preceded by an even number of backslashes), as the server reads lines.
 */
export function split(data: Buffer, size: number): Array<{bytes: Buffer; rows: number}> {
  const pieces: Array<{bytes: Buffer; rows: number}> = []
  let start = 0
  let rows = 0
  for (let at = data.indexOf(NEWLINE); at !== -1; at = data.indexOf(NEWLINE, at + 1)) {
    let escapes = 0
    while (at - escapes - 1 >= start && data[at - escapes - 1] === BACKSLASH) escapes++
    if (escapes % 2 === 1) continue
    rows++
    if (at + 1 - start >= size) {
      pieces.push({bytes: data.subarray(start, at + 1), rows})
      start = at + 1
      rows = 0
    }
  }
  if (start < data.length) pieces.push({bytes: data.subarray(start), rows: rows + (data.at(-1) === NEWLINE ? 0 : 1)})
  return pieces
}

function quoteString(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`
}
