import {describe, expect, it} from 'vitest'
import {databasesText, describeDatabases, formatBytes, formatDuration, listText, plural} from '../../src/preflight/format.js'

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
    expect([999, 1000, 1_234_567, 20e9].map(formatBytes)).toEqual(['999 bytes', '1.0 kB', '1.2 MB', '20.0 GB'])
    expect([45, 3599, 3600, 3660, 86_399, 90_000, 2_592_000].map(formatDuration)).toEqual(['45 s', '1 h', '1 h', '1 h 1 min', '1 d', '1 d 1 h', '30 d'])
  })
})
