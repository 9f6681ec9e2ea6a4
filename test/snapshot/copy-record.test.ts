import fc from 'fast-check'
import {describe, expect, test} from 'vitest'
import type {CopyRecord} from '../../src/snapshot/parallel/copy-plan.js'
import {applyCopyLine, parseCopyRecord} from '../../src/snapshot/parallel/copy-record.js'

const table = (name: string, bounds: string[] = [], done: number[] = []) => ({database: 'db', name, definition: '0123456789abcdef', bounds, done})

describe('the copy record and its lines', () => {
  test('tables are appended in order, chunks of planned tables marked done once', () => {
    const record: CopyRecord = {tables: [table('a')]}
    expect(applyCopyLine(record, {t: 1, table: table('b', ['10', '20'])})).toBe(true)
    expect(applyCopyLine(record, {t: 1, c: 2})).toBe(true)
    expect(applyCopyLine(record, {t: 1, c: 2})).toBe(true)
    expect(applyCopyLine(record, {t: 0, c: 0})).toBe(true)
    expect(record).toEqual({tables: [table('a', [], [0]), table('b', ['10', '20'], [2])]})
  })

  test('a line this copy could not have written changes nothing: no chunk is thought loaded that was not planned', () => {
    const record: CopyRecord = {tables: [table('a', ['5'])]}
    const before = structuredClone(record)
    const refused: unknown[] = [
      // A table out of order (skipping one, or replacing one), or malformed.
      {t: 2, table: table('x')},
      {t: 0, table: table('x')},
      {t: 1, table: {...table('x'), bounds: ['20', '10']}},
      {t: 1, table: {...table('x'), bounds: ['1', '1']}},
      {t: 1, table: {...table('x'), bounds: ['1e3']}},
      {t: 1, table: {...table('x'), bounds: [10]}},
      {t: 1, table: {...table('x'), done: [5]}},
      {t: 1, table: {...table('x'), bounds: Array.from({length: 2000}, (_, i) => String(i))}},
      {t: 1, table: {database: 'db', name: 'x'}},
      // A chunk of a table not in the plan, or beyond its cut.
      {t: 1, c: 0},
      {t: -1, c: 0},
      {t: 0, c: 2},
      {t: 0, c: -1},
      {t: 0, c: 0.5},
      {t: '0', c: 0},
      {t: 0},
      null,
      'garbage',
      [0, 0],
    ]
    for (const line of refused) expect(applyCopyLine(record, line), JSON.stringify(line)?.slice(0, 80)).toBe(false)
    expect(record).toEqual(before)
  })

  test('whatever the lines, the record stays one a resume can trust: tables in order, done chunks within each cut', () => {
    const line = fc.oneof(
      fc.record({t: fc.integer({min: -2, max: 6}), c: fc.oneof(fc.integer({min: -2, max: 6}), fc.double(), fc.string())}),
      fc.record({t: fc.integer({min: -2, max: 6}), table: fc.record({database: fc.string(), name: fc.string(), definition: fc.string(), bounds: fc.array(fc.oneof(fc.bigInt().map(String), fc.string()), {maxLength: 5}), done: fc.array(fc.integer({min: -1, max: 6}), {maxLength: 5})})}),
      fc.anything(),
    )
    fc.assert(
      fc.property(fc.array(line, {maxLength: 40}), (lines) => {
        const record: CopyRecord = {tables: [table('a', ['0'])]}
        for (const l of lines) applyCopyLine(record, l)
        // What a resume reads back is a record the checkpoint could hold.
        expect(parseCopyRecord(structuredClone(record))).toEqual(record)
        for (const t of record.tables) for (const d of t.done) expect(d).toBeLessThanOrEqual(t.bounds.length)
      }),
    )
  })

  test('parseCopyRecord takes a record of an earlier datain (no journal), copied; refuses a broken one', () => {
    const value = {tables: [table('a', ['-5', '7'], [0, 2, 2])]}
    const parsed = parseCopyRecord(value)
    expect(parsed).toEqual({tables: [table('a', ['-5', '7'], [0, 2])]})
    parsed!.tables[0]!.done.push(1)
    expect(value.tables[0]!.done).toEqual([0, 2, 2])
    expect(parseCopyRecord({tables: []})).toBeUndefined()
    expect(parseCopyRecord({tables: []}, 0)).toEqual({tables: []})
    expect(parseCopyRecord({tables: [{...table('a'), bounds: ['9', '3']}]})).toBeUndefined()
    expect(parseCopyRecord({tables: 'x'})).toBeUndefined()
    expect(parseCopyRecord(undefined)).toBeUndefined()
  })
})
