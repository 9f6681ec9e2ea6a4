import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {databasesText, describeDatabases, displayWidth, formatBytes, formatDuration, formatRate, listText, padDisplay, plural, truncateDisplay} from '../../src/lib/format.js'

describe('message wording', () => {
  it('counts with the right plural', () => {
    expect(plural(1, 'table')).toBe('1 table')
    expect(plural(0, 'table')).toBe('0 tables')
    expect(plural(2, 'account or role', 'accounts and roles')).toBe('2 accounts and roles')
  })

  it('lists items as a sentence, and cuts long lists', () => {
    expect(listText([])).toBe('')
    expect(listText(['a'])).toBe('a')
    expect(listText(['a', 'b', 'c'])).toBe('a, b and c')
    expect(listText(['a', 'b', 'c', 'd'], 2)).toBe('a, b and 2 more')
  })

  it('names the databases a check looked at', () => {
    expect(databasesText(['shop'])).toBe('the database shop')
    expect(databasesText(['a', 'b'])).toBe('the databases a and b')
    expect(describeDatabases(['shop'])).toBe('database `shop`')
    expect(describeDatabases(['a', 'b'])).toBe('databases `a`, `b`')
    expect(describeDatabases(['a', 'b', 'c', 'd'])).toBe('4 databases')
    expect(describeDatabases([])).toBe('no database')
  })

  it('formats sizes and durations', () => {
    expect([0, 999, 1000, 1_234_567, 20e9].map(formatBytes)).toEqual(['0 B', '999 B', '1.0 kB', '1.2 MB', '20.0 GB'])
    // The same copy reads the same in start and in status (it once read 110.2 KB in one, 112.8 kB in the other).
    expect(formatBytes(112_845)).toBe('112.8 kB')
    expect([45, 3599, 3600, 3660, 86_399, 90_000, 2_592_000].map(formatDuration)).toEqual(['45 s', '1 h', '1 h', '1 h 1 min', '1 d', '1 d 1 h', '30 d'])
  })
})

/** The number a formatted size stands for, in bytes. */
function bytesOf(text: string): number {
  const [value, unit] = text.split(' ')
  const power = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'].indexOf(unit ?? '')
  expect(power, text).toBeGreaterThanOrEqual(0)
  return Number(value) * 1000 ** power
}

/** The number a formatted duration stands for, in seconds. */
function secondsOf(text: string): number {
  const units: Record<string, number> = {ms: 0.001, s: 1, min: 60, h: 3600, d: 86_400}
  const parts = text.split(' ')
  let total = 0
  for (let i = 0; i < parts.length; i += 2) {
    const unit = units[parts[i + 1] ?? '']
    expect(unit, text).toBeDefined()
    total += Number(parts[i]?.replaceAll(',', '')) * (unit ?? 0)
  }
  return total
}

const size = fc.double({min: 0, max: 1e20, noNaN: true})
const duration = fc.double({min: 0, max: 1e9, noNaN: true})
const anyNumber = fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, Number.MAX_VALUE, Number.MIN_VALUE))

describe('formatters, for any number', () => {
  it('never print NaN, Infinity or an exponent', () => {
    fc.assert(
      fc.property(anyNumber, (n) => {
        for (const text of [formatBytes(n), formatDuration(n), formatRate(n), plural(Number.isFinite(n) ? n : 0, 'row')]) {
          expect(text).not.toMatch(/NaN|Infinity|e[+-]?\d/)
        }
      }),
    )
  })

  it('sizes: monotonic, below 1000 of their unit, within rounding of the true value', () => {
    fc.assert(
      fc.property(size, size, (a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a]
        expect(bytesOf(formatBytes(low))).toBeLessThanOrEqual(bytesOf(formatBytes(high)))
        const text = formatBytes(high)
        expect(Number(text.split(' ')[0])).toBeLessThan(1000)
        // One decimal of the unit: at most 5% off past 1 kB, half a byte below.
        expect(Math.abs(bytesOf(text) - high)).toBeLessThanOrEqual(Math.max(0.5, high * 0.05))
      }),
    )
  })

  it('sizes: the unit changes exactly at each power of 1000, after rounding', () => {
    expect([999.4, 999.5, 999_949, 999_950, 999_950_000].map(formatBytes)).toEqual(['999 B', '1.0 kB', '999.9 kB', '1.0 MB', '1.0 GB'])
    expect(formatBytes(-1500)).toBe('-1.5 kB')
  })

  it('durations: monotonic and within rounding of the true value', () => {
    fc.assert(
      fc.property(duration, duration, (a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a]
        expect(secondsOf(formatDuration(low))).toBeLessThanOrEqual(secondsOf(formatDuration(high)))
        // Rounded to a tenth of a second, a second, a minute or an hour: off by at most half of that unit
        // (a relative bound fails at the edges: 62.5 s reads "1 min", 89 s too).
        const half = high < 9.95 ? 0.05 : high < 59.5 ? 0.5 : high < 86_370 ? 30.5 : 1800.5
        expect(Math.abs(secondsOf(formatDuration(high)) - high)).toBeLessThanOrEqual(half + 1e-9)
      }),
    )
  })

  it('durations: the boundaries between units', () => {
    expect([0, 9.94, 9.95, 59.4, 59.5, 89, 90, 86_369, 86_370].map(formatDuration)).toEqual(['0 s', '9.9 s', '10 s', '59 s', '1 min', '1 min', '2 min', '23 h 59 min', '1 d'])
    // A step of 12 ms is not "done in 0.0 s".
    expect([0.0004, 0.012, 0.0944, 0.095, 0.1].map(formatDuration)).toEqual(['0 ms', '12 ms', '94 ms', '0.1 s', '0.1 s'])
    expect([Number.NaN, Number.POSITIVE_INFINITY].map(formatDuration)).toEqual(['unknown time', 'unknown time'])
  })

  it('plurals: one is singular, everything else plural, thousands grouped', () => {
    fc.assert(
      fc.property(fc.integer({min: 0, max: 10 ** 12}), (n) => {
        const text = plural(n, 'row')
        expect(text.endsWith(n === 1 ? ' row' : ' rows')).toBe(true)
        expect(Number(text.split(' ')[0]?.replaceAll(',', ''))).toBe(n)
      }),
    )
  })
})

describe('display widths', () => {
  it('count the columns a terminal draws', () => {
    const cases: Array<[string, number]> = [
      ['abc', 3],
      ['表名', 4],
      ['ｶﾀｶﾅ', 4],
      ['📦', 2],
      ['👩‍💻', 2], // one grapheme joined by ZWJ
      ['🇫🇷', 2],
      ['☃️', 2], // with VS16
      ['e\u0301', 1], // combining accent
      ['한', 2],
      ['a\u{e0100}', 1], // a variation selector on its own
      ['a\u200bb', 2], // zero-width space
      ['\u00ad', 0],
      ['\x1b[31mred\x1b[39m', 3],
      ['', 0],
    ]
    for (const [text, width] of cases) expect(displayWidth(text), JSON.stringify(text)).toBe(width)
  })

  it('pad and cut by columns, never through a grapheme', () => {
    expect(padDisplay('表', 4)).toBe('表  ')
    expect(padDisplay('long', 2)).toBe('long')
    expect(truncateDisplay('表名データ', 5)).toBe('表名…')
    expect(truncateDisplay('👩‍💻👩‍💻', 3)).toBe('👩‍💻…')
    expect(truncateDisplay('abc', 3)).toBe('abc')
    fc.assert(
      fc.property(fc.string({unit: 'grapheme', maxLength: 30}), fc.integer({min: 0, max: 40}), (text, width) => {
        const cut = truncateDisplay(text, width)
        expect(displayWidth(cut)).toBeLessThanOrEqual(Math.max(width, 0))
        if (cut !== text) expect(text.startsWith(cut.slice(0, -1))).toBe(true)
        expect(displayWidth(padDisplay(text, width))).toBe(Math.max(width, displayWidth(text)))
      }),
    )
  })
})
