/**
 * A source (and a replica) whose GLOBAL sql_mode changes how SQL is read: ANSI_QUOTES ("…" is a
 * name), NO_BACKSLASH_ESCAPES (\ is a plain character), PIPES_AS_CONCAT, ORACLE (another parser).
 * Every session datain opens inherits it unless datain sets its own. The whole life on
 * `--target mariadb`, with each copy engine, must end with an identical replica.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import {tableFingerprints} from '../../sandbox/table-fingerprints.js'
import {dispose, type Env as TargetEnv, newTargetEnv, waitUntil} from '../stop/helpers.js'

type Env = TargetEnv<AnySandbox>
const DATABASES = ['shop', 'odd']

describe.each([
  {mode: 'ORACLE', engine: [] as string[]},
  {mode: 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT,STRICT_ALL_TABLES', engine: ['--parallel', '1']},
])('--target mariadb, both servers under GLOBAL sql_mode $mode, start $engine', ({mode, engine}) => {
  let e: Env
  beforeAll(async () => {
    e = await newTargetEnv('mariadb', {sampleRows: 300})
    await e.sandbox.source.server.execute([
      'CREATE DATABASE odd DEFAULT CHARSET utf8mb4',
      'CREATE TABLE odd.t (id INT PRIMARY KEY, s TEXT, b BLOB, d DATE)',
      "INSERT INTO odd.t VALUES (1, 'back\\\\slash \\' \"dq\" `bt` 🦆', 0x5C00275C, '0000-00-00'), (2, '\\\\', NULL, '2020-01-01')",
    ])
    for (const server of [e.sandbox.source.server, e.sandbox.replica.server]) await server.execute([`SET GLOBAL sql_mode = '${mode}'`])
  }, 120_000)
  afterAll(() => dispose(e))

  const noTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/)

  it('init, start, writes, status, verify, a change behind its back found, stop --cutover: identical', async () => {
    const init = await e.run(['init'])
    noTrace(init.stderr)
    expect(init.exitCode, init.stdout + init.stderr).toBe(0)
    const start = await e.run(['start', ...engine])
    noTrace(start.stderr)
    expect(start.exitCode, start.stdout + start.stderr).toBe(0)

    await e.sandbox.source.server.execute([
      "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'",
      "INSERT INTO odd.t VALUES (3, 'raw \\ backslash', 0x5C, '2021-01-01')",
      'SET SESSION sql_mode = DEFAULT',
      "UPDATE shop.orders SET `delivery note` = 'after \\\\ the copy' WHERE id = 1",
    ])
    const [{pos}] = (await e.sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
    await waitUntil(async () => {
      const [row] = await e.sandbox.replica.server.query<Array<{ok: number | null}>>('SELECT MASTER_GTID_WAIT(?, 0) = 0 AS ok', [pos])
      return Number(row?.ok) === 1
    }, 60_000)

    const status = await e.run(['status', '--json'])
    noTrace(status.stderr)
    expect(status.exitCode, status.stdout + status.stderr).toBe(0)
    expect(await tableFingerprints(e.sandbox.replica.server, DATABASES, {extended: true})).toEqual(await tableFingerprints(e.sandbox.source.server, DATABASES, {extended: true}))

    const verify = await e.run(['verify'])
    noTrace(verify.stderr)
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0)
    await e.sandbox.replica.server.execute(["UPDATE odd.t SET s = 'changed' WHERE id = 2"])
    const differs = await e.run(['verify', '--json'])
    noTrace(differs.stderr)
    expect(differs.exitCode, differs.stdout + differs.stderr).toBe(1)
    expect((JSON.parse(differs.stdout) as {tables: Array<{table: string; differences: unknown[]}>}).tables.find((t) => t.table === 'odd.t')?.differences).toEqual([{id: '2'}])
    const [original] = await e.sandbox.source.server.query<Array<{s: string}>>('SELECT s FROM odd.t WHERE id = 2')
    await e.sandbox.replica.server.query('UPDATE odd.t SET s = ? WHERE id = 2', [original!.s])

    const stop = await e.run(['stop', '--cutover'])
    noTrace(stop.stderr)
    expect(stop.exitCode, stop.stdout + stop.stderr).toBe(0)
    expect(await tableFingerprints(e.sandbox.replica.server, DATABASES, {extended: true})).toEqual(await tableFingerprints(e.sandbox.source.server, DATABASES, {extended: true}))
  }, 400_000)
})
