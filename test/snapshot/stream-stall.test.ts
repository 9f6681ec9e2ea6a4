import {readFileSync} from 'node:fs'
import type {Connection} from 'mariadb'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {connectTo, type ServerAddress} from '../../src/lib/mariadb.js'
import {streamCopy} from '../../src/snapshot/single-stream.js'
import {allowLoopback} from '../helpers/preflight.js'

/** The single-stream copy (mariadb-dump | mariadb) held by a lock on the source: both tools are ended within the stall bound. */

let sandbox: Sandbox
const address = (side: 'source' | 'replica'): ServerAddress => ({
  host: sandbox[side].host,
  port: sandbox[side].port,
  user: sandbox[side].user,
  password: sandbox[side].password,
  tls: {ca: readFileSync(sandbox[side].sslCa, 'utf8'), verify: true},
})

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  allowLoopback(sandbox)
  await sandbox.source.server.execute(['CREATE DATABASE sdump', 'CREATE TABLE sdump.t (id INT NOT NULL PRIMARY KEY)', 'INSERT INTO sdump.t VALUES (1), (2)'])
})

afterAll(async () => {
  await sandbox?.stop()
})

it('a dump that waits on a table lock of the source makes no progress: E_SNAPSHOT_STALLED, no tool left running', async () => {
  const holder: Connection = await connectTo('source', address('source'))
  process.env.DATAIN_STALL_TIMEOUT = '1'
  let pids: {dump: number; load: number} | undefined
  try {
    await holder.query('LOCK TABLES sdump.t WRITE')
    const started = Date.now()
    const copy = streamCopy({source: address('source'), replica: address('replica'), databases: ['sdump'], signal: new AbortController().signal, hooks: {onStart: (p) => (pids = p)}})
    await expect(copy).rejects.toMatchObject({code: 'E_SNAPSHOT_STALLED', message: expect.stringMatching(/made no progress for 1 s/)})
    expect(Date.now() - started).toBeLessThan(15_000)
    for (const pid of Object.values(pids!)) expect(() => process.kill(pid, 0)).toThrow()
  } finally {
    delete process.env.DATAIN_STALL_TIMEOUT
    await holder.query('UNLOCK TABLES').catch(() => {})
    await holder.end()
  }
})
