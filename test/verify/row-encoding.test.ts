import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import type {Connection} from 'mariadb'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {MariaDbServer} from '../../sandbox/mariadb-server.js'
import {checksumSql, rowEncoding, type VerifyTable} from '../../src/verify/checksum.js'
import {planTables} from '../../src/verify/plan.js'

/**
 * The row encoding that verify's chunk checksums and row narrowing hash must give two rows the same
 * string exactly when every column holds the same value: NULL is not '', 'a#','b' is not 'a','#b',
 * 'a' is not 'A' even where the collation says they are equal. Checked on a real server, for a table
 * whose text shares one collation (values go in uncast) and for one that mixes collations and
 * character sets (every string cast to its bytes).
 */

// Few values, '#' and '' often: two rows that an ambiguous encoding would confuse come up in every run.
const TEXT = ['#', '#', 'a', 'A', 'é', ' ', '1']
const text = fc.option(fc.array(fc.constantFrom(...TEXT), {maxLength: 2}).map((parts) => parts.join('')), {nil: null, freq: 4})
const bytes = fc.option(fc.array(fc.constantFrom(0x23, 0x23, 0x61, 0x00, 0xff), {maxLength: 2}).map((b) => Buffer.from(b)), {nil: null, freq: 4})
const int = fc.option(fc.constantFrom(0, 1, 11, -1), {nil: null, freq: 4})
const row = fc.record({a: text, n: int, b: text, v: bytes, c: text})
type Row = typeof row extends fc.Arbitrary<infer R> ? R : never
// The second row is the first with one to three columns drawn again: rows that differ in little, where an encoding would confuse them.
const rowPair = fc
  .tuple(row, row, fc.subarray(['a', 'n', 'b', 'v', 'c'] as const, {minLength: 1, maxLength: 3}))
  .map(([x, z, redrawn]): [Row, Row] => [x, {...x, ...Object.fromEntries(redrawn.map((k) => [k, z[k]]))}])

const TABLES = {
  // One collation: the strings go into CONCAT_WS as they are (castText false); VARBINARY mixes with it.
  shared: `CREATE TABLE enc.shared (id INT PRIMARY KEY, a VARCHAR(10) NULL, n INT NULL, b VARCHAR(10) NULL, v VARBINARY(10) NULL, c TEXT NULL)
             CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
  // Collations and character sets that CONCAT_WS cannot mix: every string cast to its bytes.
  mixed: `CREATE TABLE enc.mixed (id INT PRIMARY KEY, a VARCHAR(10) CHARACTER SET latin1 NULL, n INT NULL, b VARCHAR(10) CHARACTER SET utf16 NULL,
             v VARBINARY(10) NULL, c TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL)`,
}

const same = (x: Row, y: Row) =>
  (['a', 'n', 'b', 'c'] as const).every((k) => x[k] === y[k]) && (x.v === null ? y.v === null : y.v !== null && x.v.equals(y.v))

describe('verify row encoding, on a real server', () => {
  let server: MariaDbServer
  let dir: string
  let conn: Connection
  const planned = new Map<string, VerifyTable>()

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'datain-encoding-'))
    server = await MariaDbServer.start({dir, serverId: 78})
    conn = await server.connectAsRoot()
    await conn.query('CREATE DATABASE enc')
    for (const sql of Object.values(TABLES)) await conn.query(sql)
    for (const t of await planTables(conn, {copied: ['enc']})) planned.set(t.name, t)
  }, 120_000)

  afterAll(async () => {
    await conn?.end()
    await server?.stop()
    await rm(dir, {recursive: true, force: true})
  })

  it('casts strings only where the collations differ', () => {
    expect(planned.get('shared')!.castText).toBe(false)
    expect(planned.get('mixed')!.castText).toBe(true)
    expect(rowEncoding(planned.get('shared')!)).not.toContain('CAST(')
    // The last column whose text could hold '#' goes without its length; the others with theirs.
    expect(rowEncoding(planned.get('shared')!)).toContain('LENGTH(`a`), LENGTH(`b`), LENGTH(`v`), `id`')
    expect(rowEncoding(planned.get('mixed')!)).toContain('CAST(`b` AS BINARY)')
  })

  // Every pair of columns through values built to be confused ('#' moved from one column to the
  // next, NULL against ''), the others fixed: no two of these rows may share an encoding.
  for (const name of Object.keys(TABLES)) {
    it(`gives each of the rows that differ only in two columns an encoding of its own: ${name}`, async () => {
      const encoding = rowEncoding(planned.get(name)!)
      const strings = [null, '', '#', 'a', '#a', 'a#', '##']
      const domain: {[K in keyof Row]: Array<Row[K]>} = {
        a: strings, b: strings, c: strings, n: [null, 0, 1, 11], v: strings.map((t) => (t === null ? null : Buffer.from(t))),
      }
      const base: Row = {a: '#', n: 1, b: '', v: Buffer.from('#'), c: 'a'}
      const seen = new Map<string, Row>()
      const columns = Object.keys(domain) as Array<keyof Row>
      for (const [i, p] of columns.entries()) {
        for (const q of columns.slice(i + 1)) {
          for (const vp of domain[p]) {
            for (const vq of domain[q]) {
              const r = {...base, [p]: vp, [q]: vq}
              await conn.query(`REPLACE INTO enc.${name} VALUES (1, ?, ?, ?, ?, ?)`, [r.a, r.n, r.b, r.v, r.c])
              const [{e}] = (await conn.query({sql: `SELECT HEX(${encoding}) AS e FROM enc.${name}`})) as [{e: string}]
              const earlier = seen.get(e)
              if (earlier !== undefined && !same(earlier, r)) expect.fail(`${JSON.stringify(earlier)} and ${JSON.stringify(r)} encode alike`)
              seen.set(e, r)
            }
          }
        }
      }
      expect(seen.size).toBeGreaterThan(300)
    }, 120_000)
  }

  for (const name of Object.keys(TABLES)) {
    it(`gives two rows the same encoding and checksum exactly when they hold the same values: ${name} (property)`, async () => {
      const table = planned.get(name)!
      const encoding = rowEncoding(table)
      await fc.assert(
        fc.asyncProperty(rowPair, async ([x, y]) => {
          // The same key for both, one after the other: only the columns tell them apart.
          const read = async (r: Row) => {
            await conn.query(`REPLACE INTO enc.${name} VALUES (1, ?, ?, ?, ?, ?)`, [r.a, r.n, r.b, r.v, r.c])
            const [{e}] = (await conn.query({sql: `SELECT HEX(${encoding}) AS e FROM enc.${name}`})) as [{e: string}]
            const {sql, values} = checksumSql(table, {lo: ['1'], hi: ['2']})
            const [{h}] = (await conn.query({sql}, values)) as [{h: string}]
            return {e, h}
          }
          const [ex, ey] = [await read(x), await read(y)]
          expect(ex.e === ey.e, `${JSON.stringify([x, y])}: ${ex.e} / ${ey.e}`).toBe(same(x, y))
          // The chunk checksum: the same CRC32 of the same encoding.
          if (same(x, y)) expect(ex.h).toBe(ey.h)
        }),
        {numRuns: 400},
      )
    }, 120_000)
  }
})
