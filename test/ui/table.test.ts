import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {displayWidth} from '../../src/lib/format.js'
import {tableLines} from '../../src/ui/table.js'
import {terminalLine} from '../../src/ui/terminal-text.js'
import {renderProfiles} from '../../src/ui/profiles.js'
import type {ProfileList} from '../../src/profiles/list.js'

/** A column between the names: a private-use character no generated name holds. */
const MARK = '\ue000'

/** The display column of every MARK in `line`. */
function markColumns(line: string): number[] {
  const columns: number[] = []
  for (let at = line.indexOf(MARK); at >= 0; at = line.indexOf(MARK, at + 1)) columns.push(displayWidth(line.slice(0, at)))
  return columns
}

// Names as a server could send them: any code point, CJK, emoji (with ZWJ and variation selectors),
// combining accents, zero-width characters; escaped for the terminal as every renderer does, a cell on one line.
const name = fc
  .oneof(
    fc.string({unit: 'grapheme', maxLength: 12}),
    fc.string({unit: 'binary', maxLength: 12}),
    fc.constantFrom('表名', '顧客データ', '📦', '👩‍💻', '🇫🇷', 'e\u0301', 'a\u200bb', '☃️', '한국어', 'ｶﾀｶﾅ', ''),
  )
  .map((text) => terminalLine(text).replaceAll(MARK, ''))

describe('tables', () => {
  it('line up by display width for any names (CJK and emoji take two columns)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(name, name, name), {minLength: 1, maxLength: 6}), (rows) => {
        // Each name followed by a one-character column: where those stand shows where every column starts.
        const lines = tableLines(rows.map((row) => row.flatMap((cell) => [cell, MARK])))
        const columns = lines.map(markColumns)
        for (const c of columns) expect(c).toEqual(columns[0])
        // And each name is there whole, followed by spaces only.
        lines.forEach((line, i) => {
          const cells = line.slice(2).split(MARK).slice(0, 3)
          cells.forEach((cell, j) => {
            const text = j === 0 ? cell : cell.slice(2)
            expect(text.startsWith(rows[i]![j]!)).toBe(true)
            expect(text.slice(rows[i]![j]!.length)).toMatch(/^ *$/)
          })
        })
      }),
      {numRuns: 1000},
    )
  })

  it('cut to a terminal width, whole graphemes only', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(name, name), {minLength: 1, maxLength: 4}), fc.integer({min: 1, max: 40}), (rows, width) => {
        for (const line of tableLines(rows, {width})) expect(displayWidth(line)).toBeLessThanOrEqual(width)
      }),
    )
  })

  it('aligns a CJK and an emoji name with a latin one', () => {
    expect(tableLines([['PROFILE', 'X'], ['顧客', 'y'], ['📦a', 'z'], ['ab', 'w']], {indent: ''})).toEqual(['PROFILE  X', '顧客     y', '📦a      z', 'ab       w'])
  })

  it('aligns the profiles list by display width', () => {
    const list = {
      home: '/h',
      profiles: [
        {name: '本番', target: 'mariadb', source: '源.example:3306', replica: 'r:3306', standText: 'healthy'},
        {name: 'default', target: 'azure-mariadb', source: 's:3306', replica: 'r:3306', standText: 'not started'},
      ],
    } as unknown as ProfileList
    const [head, ...rows] = renderProfiles(list).split('\n')
    const column = (line: string, text: string) => displayWidth(line.slice(0, line.indexOf(text)))
    expect(column(rows[0]!, 'mariadb')).toBe(column(head!, 'TARGET'))
    expect(column(rows[1]!, 'azure-mariadb')).toBe(column(head!, 'TARGET'))
    expect(column(rows[0]!, 'r:3306')).toBe(column(head!, 'REPLICA'))
  })
})
