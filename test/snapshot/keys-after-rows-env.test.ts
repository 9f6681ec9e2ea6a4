import {access, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {tableFingerprints} from '../../sandbox/table-fingerprints.js'
import {keysAfterRowsBytes} from '../../src/lib/keys-after-rows.js'
import {datain, resultJson} from '../helpers/datain.js'
import {targetEnv} from '../helpers/targets.js'
import {definitions} from './show-create.js'

/**
 * DATAIN_KEYS_AFTER_ROWS_MB: from which size (InnoDB's estimate) a table's plain indexes are built
 * after its rows. A bad value ends `datain start` before it does anything; `off` creates every table
 * with its indexes; 0 builds them after the rows for small tables too. Either way the replica's
 * tables are the source's, SHOW CREATE TABLE byte for byte.
 */

const MB = 1024 * 1024
const BUILT_AFTER = /The non-unique indexes of (\d+) tables? (?:was|were) built after/

describe('DATAIN_KEYS_AFTER_ROWS_MB, read', () => {
  it('is MB from which the indexes go after the rows: 16 by default, 0 for every table, off for none, anything else bad input', () => {
    expect(keysAfterRowsBytes({})).toBe(16 * MB)
    expect(keysAfterRowsBytes({DATAIN_KEYS_AFTER_ROWS_MB: ' '})).toBe(16 * MB)
    expect(keysAfterRowsBytes({DATAIN_KEYS_AFTER_ROWS_MB: '64'})).toBe(64 * MB)
    expect(keysAfterRowsBytes({DATAIN_KEYS_AFTER_ROWS_MB: ' 0.5 '})).toBe(MB / 2)
    expect(keysAfterRowsBytes({DATAIN_KEYS_AFTER_ROWS_MB: '0'})).toBe(0)
    expect(keysAfterRowsBytes({DATAIN_KEYS_AFTER_ROWS_MB: 'off'})).toBe(Number.POSITIVE_INFINITY)
    expect(keysAfterRowsBytes({DATAIN_KEYS_AFTER_ROWS_MB: 'OFF'})).toBe(Number.POSITIVE_INFINITY)
    for (const bad of ['-1', '-0', 'ten', '1e3', '0x10', 'NaN', 'Infinity', '16MB', '1.', '.5', 'no', '9'.repeat(400)]) {
      expect(() => keysAfterRowsBytes({DATAIN_KEYS_AFTER_ROWS_MB: bad}), bad).toThrow(
        expect.objectContaining({code: 'E_BAD_INPUT', exitCode: 2, message: expect.stringContaining('DATAIN_KEYS_AFTER_ROWS_MB')}),
      )
    }
  })
})

let sandbox: Sandbox
let home: string
let env: Record<string, string>
const DATABASES = ['keyed']

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  home = await mkdtemp(path.join(tmpdir(), 'datain-keys-env-'))
  env = targetEnv(sandbox, home)
  await sandbox.source.server.execute([
    'DROP DATABASE IF EXISTS keyed',
    'CREATE DATABASE keyed',
    `CREATE TABLE keyed.a (id INT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL, w INT NULL, KEY ix_v (v), KEY ix_wv (w, v(8)) COMMENT 'kept in order', UNIQUE KEY u_w (w)) ENGINE=InnoDB`,
    `INSERT INTO keyed.a SELECT seq, CONCAT('v', seq % 97), IF(seq % 5 = 0, NULL, seq) FROM keyed.seq_1_to_3000`,
    `CREATE TABLE keyed.b (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, d DATETIME NOT NULL, KEY ix_d (d DESC)) ENGINE=InnoDB`,
    `INSERT INTO keyed.b (d) SELECT '2024-01-01' + INTERVAL seq MINUTE FROM keyed.seq_1_to_2000`,
    // Neither c (it has a FOREIGN KEY) nor a (c's key references it) is ever created without its keys.
    `CREATE TABLE keyed.c (id INT NOT NULL PRIMARY KEY, a_id INT NOT NULL, KEY ix_a (a_id), CONSTRAINT to_a FOREIGN KEY (a_id) REFERENCES a (id)) ENGINE=InnoDB`,
    'INSERT INTO keyed.c SELECT seq, seq FROM keyed.seq_1_to_100',
    // Above 16 MB (InnoDB's estimate): its index goes after its rows by default.
    `CREATE TABLE keyed.big (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, pad CHAR(255) NOT NULL, KEY ix_k (k)) ENGINE=InnoDB`,
    `INSERT INTO keyed.big SELECT seq, seq % 1000, REPEAT('p', 250) FROM keyed.seq_1_to_90000`,
    'ANALYZE TABLE keyed.a, keyed.b, keyed.c, keyed.big',
  ])
  const [big] = await sandbox.source.server.query<Array<{n: bigint}>>("SELECT DATA_LENGTH AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'keyed' AND TABLE_NAME = 'big'")
  expect(Number(big!.n)).toBeGreaterThan(17 * MB)
})

afterAll(async () => {
  await sandbox?.stop()
  if (home) await rm(home, {recursive: true, force: true})
})

async function reset(): Promise<void> {
  await sandbox.replica.server.execute(['STOP ALL SLAVES', "RESET SLAVE '' ALL", 'DROP DATABASE IF EXISTS keyed'])
  await sandbox.source.server.execute(["DROP USER IF EXISTS 'datain_repl'@'%'"])
  sandbox.azure.state.firewallRules.clear()
}

async function startWith(profile: string, value: string) {
  await reset()
  const init = await datain(['init', '--profile', profile, '--databases', 'keyed'], env)
  expect(init.exitCode, init.stderr + init.stdout).toBe(0)
  return datain(['start', '--profile', profile, '--parallel', '2'], {...env, DATAIN_KEYS_AFTER_ROWS_MB: value})
}

async function expectExactCopy(): Promise<void> {
  const expected = await definitions(sandbox.source.server, DATABASES)
  expect(Object.keys(expected)).toHaveLength(4)
  expect(await definitions(sandbox.replica.server, DATABASES)).toEqual(expected)
  expect(await tableFingerprints(sandbox.replica.server, DATABASES, {extended: true})).toEqual(await tableFingerprints(sandbox.source.server, DATABASES, {extended: true}))
  const [status] = await sandbox.replica.server.query<Array<Record<string, unknown>>>('SHOW SLAVE STATUS')
  expect(status).toMatchObject({Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes'})
}

describe('DATAIN_KEYS_AFTER_ROWS_MB, in datain start', () => {
  it('refuses a bad value (exit 2, one paragraph naming it) before anything is done', async () => {
    await reset()
    expect((await datain(['init', '--profile', 'bad', '--databases', 'keyed'], env)).exitCode).toBe(0)
    for (const bad of ['-5', 'lots', '1e9']) {
      const result = await datain(['start', '--profile', 'bad'], {...env, DATAIN_KEYS_AFTER_ROWS_MB: bad})
      expect(result.exitCode, result.stderr).toBe(2)
      expect(result.stderr).toContain(`DATAIN_KEYS_AFTER_ROWS_MB must be a size in MB, 0 or more`)
      expect(result.stderr).toContain(`(it is '${bad}')`)
      expect(result.stderr).not.toContain('▶')
    }
    const json = await datain(['start', '--profile', 'bad', '--json'], {...env, DATAIN_KEYS_AFTER_ROWS_MB: 'off please'})
    expect([json.exitCode, resultJson<{error: {code: string}}>(json.stdout).error.code]).toEqual([2, 'E_BAD_INPUT'])
    // No step ran: no checkpoint, nothing on either server.
    await expect(access(path.join(home, 'profiles', 'bad', 'checkpoint.json'))).rejects.toMatchObject({code: 'ENOENT'})
    expect(await sandbox.replica.server.query<unknown[]>("SHOW DATABASES LIKE 'keyed'")).toHaveLength(0)
    expect(await sandbox.source.server.query<unknown[]>("SELECT 1 FROM mysql.user WHERE User = 'datain_repl'")).toHaveLength(0)
    expect(sandbox.azure.state.firewallRules.size).toBe(0)
  })

  it('off: every table is created with its indexes, none built after its rows, not even a large one', async () => {
    const result = await startWith('off', 'off')
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stderr).not.toMatch(BUILT_AFTER)
    expect(result.stderr).not.toContain('(indexes)')
    await expectExactCopy()
  })

  it('0: the small tables too get their plain indexes after their rows (those that can: b and big)', async () => {
    const result = await startWith('zero', '0')
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stderr.match(BUILT_AFTER)?.[1]).toBe('2')
    await expectExactCopy()
  })

  it('unset: the large table only', async () => {
    const result = await startWith('default', '')
    expect(result.exitCode, result.stderr).toBe(0)
    expect(result.stderr.match(BUILT_AFTER)?.[1]).toBe('1')
    await expectExactCopy()
  })
})
