import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Sandbox} from '../../sandbox/sandbox.js'
import {tableFingerprints} from '../../sandbox/table-fingerprints.js'
import type {ServerAddress} from '../../src/lib/mariadb.js'
import {type CopyRecord, type ParallelCopyOptions, parallelCopy} from '../../src/snapshot/parallel/parallel-copy.js'
import {startCopySandbox} from '../helpers/copy-sandbox.js'
import {memoryLog} from './memory-log.js'

/**
 * Many small tables, created a slice at a time while the rows of the slices before move: a copy
 * stopped in the middle resumes to an identical replica, and a table the replica refuses in a
 * later slice fails the copy with that table's error while the workers are busy.
 */

const TABLES = 90
const SLICE = 8

let sandbox: Sandbox
let source: ServerAddress
let replica: ServerAddress

beforeAll(async () => {
  ;({sandbox, source, replica} = await startCopySandbox())
  const statements = ['DROP DATABASE IF EXISTS many', 'CREATE DATABASE many']
  for (let t = 1; t <= TABLES; t++) {
    const name = `many.t${String(t).padStart(3, '0')}`
    statements.push(`CREATE TABLE ${name} (id INT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL, n INT NULL, KEY (n)) ENGINE=InnoDB`)
    statements.push(`INSERT INTO ${name} SELECT seq, CONCAT('row ', seq, CHAR(9), '${t}'), IF(seq % 3 = 0, NULL, seq * ${t}) FROM many.seq_1_to_${1 + (t % 7) * 5}`)
  }
  // A name with a backtick and a space.
  statements.push('CREATE TABLE many.`odd ``name` (id BIGINT NOT NULL PRIMARY KEY, b BLOB) ENGINE=InnoDB', "INSERT INTO many.`odd ``name` VALUES (1, 0x00FF0A5C), (2, NULL)")
  await sandbox.source.server.execute(statements)
})

afterAll(async () => {
  await sandbox?.stop()
})

async function copy(options: Partial<ParallelCopyOptions> = {}) {
  return parallelCopy({source, replica, databases: ['many'], threads: 2, signal: new AbortController().signal, schemaSlice: SLICE, ...options})
}

async function expectIdentical(): Promise<void> {
  const expected = await tableFingerprints(sandbox.source.server, ['many'], {extended: true})
  expect(Object.keys(expected)).toHaveLength(TABLES + 1)
  expect(await tableFingerprints(sandbox.replica.server, ['many'], {extended: true})).toEqual(expected)
}

describe('a copy of many small tables', () => {
  it('copies every table, created a slice at a time, and records every one done', async () => {
    await sandbox.replica.server.execute(['DROP DATABASE IF EXISTS many'])
    const log = memoryLog()
    const result = await copy({log})
    // Complete: the lines are the record (not compacted: the step's done output does not hold it).
    expect(log.ended).toBe(true)
    expect(log.compacted).toBeUndefined()
    const last = log.record
    expect(result.tables).toBe(TABLES + 1)
    expect(result.chunks).toBe(TABLES + 1)
    await expectIdentical()
    // Every table is in the record, each with its one chunk done: nothing left for a resume to load.
    expect(last!.tables).toHaveLength(TABLES + 1)
    expect(last!.tables.every((t) => t.done.length === 1 && t.done[0] === 0)).toBe(true)
    expect(new Set(last!.tables.map((t) => `${t.database}.${t.name}`)).size).toBe(TABLES + 1)
    // Logged as it went, a line a table planned and a line a chunk done, each accepted as a resume reads it.
    expect(log.lines).toHaveLength(2 * (TABLES + 1) - SLICE)
    expect(log.refused).toEqual([])
  })

  it('stopped in the middle of the copy, resumes to an identical copy, keeping what still matches', async () => {
    await sandbox.replica.server.execute(['DROP DATABASE IF EXISTS many'])
    const controller = new AbortController()
    const log = memoryLog((r) => {
      if (r.tables.reduce((n, t) => n + t.done.length, 0) >= 10) controller.abort()
    })
    const first = copy({signal: controller.signal, log})
    await expect(first).rejects.toMatchObject({code: 'E_INTERRUPTED'})
    // What the lines say is what the copy compacted as it stopped: either gives the same resume.
    const record: CopyRecord | undefined = log.record
    expect(log.compacted).toEqual(record)
    const done = record!.tables.reduce((n, t) => n + t.done.length, 0)
    expect(done).toBeGreaterThanOrEqual(10)
    expect(done).toBeLessThan(TABLES + 1)
    // Every table recorded done is on the replica with all its rows.
    for (const t of record!.tables.filter((t) => t.done.length > 0)) {
      const [mine] = await sandbox.source.server.query<Array<{n: bigint}>>(`SELECT COUNT(*) AS n FROM many.\`${t.name.replaceAll('`', '``')}\``)
      const [theirs] = await sandbox.replica.server.query<Array<{n: bigint}>>(`SELECT COUNT(*) AS n FROM many.\`${t.name.replaceAll('`', '``')}\``)
      expect(Number(theirs!.n), t.name).toBe(Number(mine!.n))
    }

    await sandbox.source.server.execute(["UPDATE many.t001 SET v = 'changed between runs' WHERE id = 1", 'DELETE FROM many.t090'])
    const second = await copy({resume: record})
    expect(second.keptChunks).toBeGreaterThan(0)
    expect(second.tables).toBe(TABLES + 1)
    await expectIdentical()
  })

  it('fails with the error of a table the replica refuses in a later slice, while the rows of earlier slices move', async () => {
    await sandbox.replica.server.execute(['DROP DATABASE IF EXISTS many'])
    const copying = copy({
      // A table of that name already on the replica: its CREATE TABLE fails, after other slices loaded.
      hooks: {onSnapshot: () => sandbox.replica.server.execute(['CREATE DATABASE many', 'CREATE TABLE many.t070 (x INT)'])},
    })
    await expect(copying).rejects.toMatchObject({code: 'E_SNAPSHOT_LOAD', message: expect.stringContaining('many.t070')})
    const [loaded] = await sandbox.replica.server.query<Array<{n: bigint}>>("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'many'")
    // Other tables were created around it: the failure did not come first.
    expect(Number(loaded!.n)).toBeGreaterThan(SLICE)
  })
})
