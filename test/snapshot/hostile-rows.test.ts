import {readFileSync} from 'node:fs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import type {ServerAddress} from '../../src/lib/mariadb.js'
import {parallelCopy} from '../../src/snapshot/parallel/parallel-copy.js'
import {type MariaDbProxy, startMariaDbProxy} from '../helpers/mariadb-proxy.js'
import {allowLoopback} from '../helpers/preflight.js'

/**
 * A hostile source answers the copy's SELECT of a table's rows with rows of its own, as the copy
 * reads them from the packets themselves (RowEncoder.pushPacket). Rows that are well formed,
 * whatever bytes they carry, reach the replica as those very bytes, LOAD DATA's syntax escaped;
 * rows that are not what their columns say fail the copy with one message naming the table,
 * before anything of that chunk is loaded, and never crash or hang datain.
 */

let sandbox: Sandbox
let proxy: MariaDbProxy
/** What the proxy answers to the copy's SELECT of hostile.t's rows. */
let answer: Array<string[] | Buffer> = []

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  allowLoopback(sandbox)
  await sandbox.source.server.execute(['CREATE DATABASE hostile', 'CREATE TABLE hostile.t (id INT NOT NULL PRIMARY KEY, v VARBINARY(400) NULL)', "INSERT INTO hostile.t VALUES (1, 'one')"])
  proxy = await startMariaDbProxy({
    upstream: {host: sandbox.source.host, port: sandbox.source.port},
    rewrite: (sql) => (/^SELECT CAST\(.* FROM `hostile`\.`t`/s.test(sql) ? answer : undefined),
  })
})

afterAll(async () => {
  await proxy?.close()
  await sandbox?.stop()
})

async function copy() {
  await sandbox.replica.server.execute(['DROP DATABASE IF EXISTS hostile'])
  const source: ServerAddress = {host: proxy.host, port: proxy.port, user: sandbox.source.user, password: sandbox.source.password}
  const replica: ServerAddress = {
    host: sandbox.replica.host,
    port: sandbox.replica.port,
    user: sandbox.replica.user,
    password: sandbox.replica.password,
    tls: {ca: readFileSync(sandbox.replica.sslCa, 'utf8'), verify: true},
  }
  return parallelCopy({source, replica, databases: ['hostile'], threads: 1, signal: new AbortController().signal})
}

async function replicaRows(): Promise<Array<[number, string | null]>> {
  const rows = (await sandbox.replica.server.query('SELECT id, HEX(v) AS v FROM hostile.t ORDER BY id')) as Array<{id: number; v: string | null}>
  return rows.map((r) => [Number(r.id), r.v])
}

/** A row packet's payload: each value length-encoded (1 or 3 bytes), null as 0xfb. */
function payload(...values: Array<Buffer | null>): Buffer {
  return Buffer.concat(
    values.map((v) => (v === null ? Buffer.from([0xfb]) : Buffer.concat([v.length < 251 ? Buffer.from([v.length]) : Buffer.from([0xfc, v.length & 0xff, v.length >> 8]), v]))),
  )
}

describe('rows a hostile source sends', () => {
  it('well formed, whatever their bytes: the replica gets those bytes exactly', async () => {
    const bytes = [Buffer.from('a\tb\nc\\d\0e'), Buffer.from('\\N'), Buffer.from(''), Buffer.from([0xfb, 0xfe, 0xff, 0x0d]), Buffer.alloc(300, 0x09)]
    answer = [...bytes.map((v, i) => payload(Buffer.from(String(i + 1)), v)), payload(Buffer.from('9'), null)]
    const result = await copy()
    expect(result.rows).toBe(6)
    expect(await replicaRows()).toEqual([...bytes.map((v, i) => [i + 1, v.toString('hex').toUpperCase()]), [9, null]])
  })

  const malformed: Array<[string, Buffer, RegExp]> = [
    ['a value longer than the packet', Buffer.from([1, 0x33, 5, 0x61, 0x62]), /value 2 is longer than the rest of the row/],
    ['bytes after the last value', Buffer.concat([payload(Buffer.from('3'), Buffer.from('ab')), Buffer.from([0])]), /1 bytes follow the row's 2 values/],
    ['one value of two', payload(Buffer.from('3')), /the row ends before its value 2 of 2/],
    ['a length of 2^64 - 1', Buffer.from([1, 0x33, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), /value 2 is longer than the rest of the row/],
    ['a length cut short', Buffer.from([1, 0x33, 0xfc, 0x10]), /value 2 has no valid length/],
  ]
  for (const [what, row, message] of malformed) {
    it(`malformed (${what}): the copy fails naming the table, and loads nothing of the chunk`, async () => {
      answer = [payload(Buffer.from('1'), Buffer.from('fine')), payload(Buffer.from('2'), Buffer.from('fine too')), row]
      const failure = await copy().then(
        () => undefined,
        (error: unknown) => error as {code?: string; message: string},
      )
      expect(failure?.code).toBe('E_SNAPSHOT_DUMP')
      expect(failure?.message).toMatch(/^Reading the rows of hostile\.t from the source failed: the source sent a malformed row \(/)
      expect(failure?.message).toMatch(message)
      expect(await replicaRows()).toEqual([])
    })
  }
})
