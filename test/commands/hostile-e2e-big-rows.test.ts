/**
 * Rows near max_allowed_packet: a 60 MB LONGBLOB on servers whose max_allowed_packet is 64 MB,
 * copied by each engine on `--target mariadb`, then replicated and verified; and `--databases`
 * names holding LIKE wildcards (`%`, `_`) that match an existing database only as a pattern.
 */
import {randomBytes} from 'node:crypto'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import {tableFingerprints} from '../../sandbox/table-fingerprints.js'
import {dispose, type Env as TargetEnv, newTargetEnv, waitUntil} from '../stop/helpers.js'

type Env = TargetEnv<AnySandbox>
const MB = 1024 * 1024

describe.each([{engine: [] as string[]}, {engine: ['--parallel', '1']}])('--target mariadb: a 60 MB row on 64 MB servers, start $engine', ({engine}) => {
  let e: Env
  beforeAll(async () => {
    e = await newTargetEnv('mariadb', {sampleRows: 0})
    for (const server of [e.sandbox.source.server, e.sandbox.replica.server]) await server.execute([`SET GLOBAL max_allowed_packet = ${64 * MB}`])
  }, 120_000)
  afterAll(() => dispose(e))

  const noTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/)

  it('copies it, replicates a second one, verify says identical and finds a byte changed behind its back', async () => {
    // Each query a new connection, so that it has the new max_allowed_packet.
    const source = e.sandbox.source.server
    await source.execute(['CREATE DATABASE big', 'CREATE TABLE big.b (id INT PRIMARY KEY, v LONGBLOB)'])
    await source.query('INSERT INTO big.b VALUES (1, ?)', [randomBytes(60 * MB)])
    await source.query('INSERT INTO big.b VALUES (2, ?)', [randomBytes(1024)])
    expect((await e.run(['init', '--databases', 'big'])).exitCode).toBe(0)
    if (engine.length > 0) {
      // The single stream's INSERT of that row, in hex, is past 64 MB: the replica closes the
      // connection (2006). The error must say what to do, not only "run again".
      const refused = await e.run(['start', ...engine])
      noTrace(refused.stderr)
      expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4)
      expect(refused.stderr.replace(/\s*\n ›\s*/g, ' ')).toMatch(/larger than the replica's max_allowed_packet .*raise max_allowed_packet on the replica/)
      await e.sandbox.replica.server.execute([`SET GLOBAL max_allowed_packet = ${256 * MB}`])
    }
    const start = await e.run(['start', ...engine])
    noTrace(start.stderr)
    expect(start.exitCode, start.stdout + start.stderr).toBe(0)

    await source.query('INSERT INTO big.b VALUES (3, ?)', [randomBytes(30 * MB)])
    const [{pos}] = (await e.sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
    await waitUntil(async () => {
      const [row] = await e.sandbox.replica.server.query<Array<{ok: number | null}>>('SELECT MASTER_GTID_WAIT(?, 0) = 0 AS ok', [pos])
      return Number(row?.ok) === 1
    }, 120_000)
    expect(await tableFingerprints(e.sandbox.replica.server, ['big'], {extended: true})).toEqual(await tableFingerprints(e.sandbox.source.server, ['big'], {extended: true}))

    const verify = await e.run(['verify'])
    noTrace(verify.stderr)
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0)
    await e.sandbox.replica.server.query('UPDATE big.b SET v = INSERT(v, 30000000, 1, 0x00) WHERE id = 1')
    const differs = await e.run(['verify', '--json'])
    noTrace(differs.stderr)
    expect(differs.exitCode, differs.stdout + differs.stderr).toBe(1)
    expect((JSON.parse(differs.stdout) as {tables: Array<{table: string; differences: unknown[]}>}).tables[0]?.differences).toEqual([{id: '1'}])
  }, 600_000)
})

describe('--target mariadb: --databases names that are LIKE patterns', () => {
  let e: Env
  beforeAll(async () => {
    e = await newTargetEnv('mariadb', {sampleRows: 100})
  }, 120_000)
  afterAll(() => dispose(e))

  it('init fails the name that matches `shop` only as a pattern (compared exactly), and start copies nothing', async () => {
    for (const [i, name] of ['sho_', 'sh%', '%', 's_op', 'SHOP\\'].entries()) {
      const init = await e.run(['init', '-p', `wild${i}`, '--databases', name])
      expect(init.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/)
      expect(init.exitCode, `${name}: ${init.stdout}${init.stderr}`).toBe(1)
      expect(init.stdout, name).toContain(`The source has no database named '${name}' (names are compared exactly).`)
    }
    const start = await e.run(['start', '-p', 'wild0'])
    expect(start.exitCode, start.stdout + start.stderr).toBe(1)
    const copied = await e.sandbox.replica.server.query<Array<{d: string}>>("SELECT SCHEMA_NAME AS d FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'sho%'")
    expect(copied).toEqual([])
  }, 120_000)
})
