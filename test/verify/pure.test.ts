import {describe, expect, it} from 'vitest'
import {displayKey, keyAfter, keyBefore, type KeyColumn, keyPlaceholder} from '../../src/verify/keys.js'
import {parseTableName} from '../../src/verify/plan.js'
import {terminalText} from '../../src/ui/terminal-text.js'
import {renderVerify} from '../../src/ui/verify.js'
import type {VerifyResult} from '../../src/verify/result.js'

const col = (name: string, type: string, extra: Partial<KeyColumn> = {}): KeyColumn => ({name, type, columnType: type, charset: null, collation: null, ...extra})

describe('verify keys', () => {
  it('writes a composite bound out as the OR of prefixes that the range optimizer uses', () => {
    const key = [col('a', 'int'), col('b', 'varchar', {charset: 'utf8mb4', collation: 'utf8mb4_general_ci'}), col('c', 'datetime')]
    const after = keyAfter(key, ['1', '62', '2024-01-01 00:00:00.000001'], true)
    expect(after.sql).toBe(
      '((`a` > CAST(? AS SIGNED)) OR (`a` = CAST(? AS SIGNED) AND `b` > CONVERT(UNHEX(?) USING utf8mb4) COLLATE utf8mb4_general_ci) OR ' +
        '(`a` = CAST(? AS SIGNED) AND `b` = CONVERT(UNHEX(?) USING utf8mb4) COLLATE utf8mb4_general_ci AND `c` >= ?))',
    )
    expect(after.values).toEqual(['1', '1', '62', '1', '62', '2024-01-01 00:00:00.000001'])
    expect(keyBefore([col('id', 'bigint', {columnType: 'bigint(20) unsigned'})], ['18446744073709551615'], false)).toEqual({
      sql: '((`id` < CAST(? AS UNSIGNED)))',
      values: ['18446744073709551615'],
    })
  })

  it('compares each type as its index orders it', () => {
    expect(keyPlaceholder(col('k', 'varbinary'))).toBe('UNHEX(?)')
    expect(keyPlaceholder(col('k', 'decimal', {columnType: 'decimal(30,10)'}))).toBe('CAST(? AS DECIMAL(30,10))')
    expect(keyPlaceholder(col('k', 'enum', {columnType: "enum('x','y')"}))).toBe('CAST(? AS UNSIGNED)')
    expect(keyPlaceholder(col('k', 'date'))).toBe('?')
    expect(() => keyPlaceholder(col('k', 'char', {charset: 'utf8mb4; DROP', collation: 'x'}))).toThrow()
  })

  it('shows keys as people read them: text decoded, bytes in hex', () => {
    const key = [col('s', 'varchar', {charset: 'utf8mb4', collation: 'utf8mb4_bin'}), col('b', 'binary'), col('n', 'int')]
    expect(displayKey(key, [Buffer.from('é').toString('hex'), '00FF', '-5'])).toEqual(['é', '0x00FF', '-5'])
  })

  it('reads db.table names, quoted ones with dots too, and refuses the rest (exit 2)', () => {
    expect(parseTableName('shop.orders')).toEqual({database: 'shop', name: 'orders'})
    expect(parseTableName('`my.db`.`t``x`')).toEqual({database: 'my.db', name: 't`x'})
    for (const bad of ['orders', '.x', 'x.']) expect(() => parseTableName(bad)).toThrow(expect.objectContaining({exitCode: 2}))
  })
})

describe('verify output', () => {
  it('escapes control characters a server could put in a name or a key', () => {
    const text = renderVerify({
      identical: false,
      exitCode: 1,
      tablesCompared: 1,
      rowsCompared: 1,
      differencesTotal: 1,
      seconds: 0.1,
      checkedAt: '2026-01-01T00:00:00.000Z',
      tables: [{table: 'shop.a\u001b[31mb', rows: 1, chunks: 1, rechecks: 1, differences: [{'k\u202e': 'v\r'}], differencesTotal: 1}],
    })
    for (const raw of ['\u001b', '\u202e', '\r']) expect(text).not.toContain(raw)
    expect(text).toContain(`shop.${terminalText('a\u001b[31mb')}: 1 row differs: k\\u202e=v\\x0d`)
    // One plural everywhere: never "1 rows" or "1 tables".
    expect(text).toContain('Differences: 1 row in 1 of 1 table (1 row compared in 0.1 s).')
    expect(renderVerify({identical: true, exitCode: 0, tablesCompared: 1, rowsCompared: 1, differencesTotal: 0, seconds: 0.01, checkedAt: '2026-01-01T00:00:00.000Z', tables: []})).toBe(
      'Identical: 1 table, 1 row compared in 10 ms.',
    )
    // A table CHECKSUM TABLE matched was not counted: its rows are InnoDB's estimate, and said so.
    const estimated = {table: 'shop.t', rows: 1_578_816, rowsEstimated: true, chunks: 0, rechecks: 0, differences: [], differencesTotal: 0}
    expect(renderVerify({identical: true, exitCode: 0, tablesCompared: 1, rowsCompared: 1_578_816, differencesTotal: 0, seconds: 1.5, checkedAt: '2026-01-01T00:00:00.000Z', tables: [estimated]})).toBe(
      'Identical: 1 table, about 1,578,816 rows compared in 1.5 s.',
    )
  })

  it('shows the first five keys of a table and how many more', () => {
    const result: VerifyResult = {
      identical: false,
      exitCode: 1,
      tablesCompared: 2,
      rowsCompared: 1000,
      differencesTotal: 7,
      seconds: 1.5,
      checkedAt: '2026-01-01T00:00:00.000Z',
      tables: [
        {table: 'shop.t', rows: 900, chunks: 1, rechecks: 3, differences: [1, 2, 3, 4, 5, 6, 7].map((id) => ({id: String(id)})), differencesTotal: 7},
        {table: 'shop.gone', rows: 0, chunks: 0, rechecks: 0, differences: [], differencesTotal: 0, missingOnReplica: true},
      ],
    }
    const text = renderVerify(result)
    expect(text).toContain('shop.t: 7 rows differ: id=1; id=2; id=3; id=4; id=5; and 2 more')
    expect(text).toContain('shop.gone: missing on the replica')
  })
})

describe('verify start-up', () => {
  it('imports no Azure SDK, whatever the profile: the replica target is not opened (a third of its start-up)', async () => {
    // The static imports reachable from the command's module and from what it loads when it runs.
    const {readFile} = await import('node:fs/promises')
    const path = await import('node:path')
    const seen = new Set<string>()
    const packages = new Set<string>()
    const walk = async (file: string): Promise<void> => {
      if (seen.has(file)) return
      seen.add(file)
      const code = await readFile(file, 'utf8')
      for (const [, specifier] of code.matchAll(/^import (?!type )[^;]*? from '([^']+)'/gms)) {
        if (specifier!.startsWith('.')) await walk(path.resolve(path.dirname(file), specifier!.replace(/\.js$/, '.ts')))
        else packages.add(specifier!)
      }
    }
    for (const entry of ['src/commands/verify.ts', 'src/verify/run-verify.ts', 'src/ui/verify.ts']) await walk(path.resolve(entry))
    expect(seen.size).toBeGreaterThan(10)
    expect([...packages].filter((p) => p.startsWith('@azure/'))).toEqual([])
    expect([...seen].filter((f) => f.includes(`${path.sep}azure${path.sep}`) || f.includes('targets'))).toEqual([])
  })
})
