import {describe, expect, it} from 'vitest'
import {
  binlogFileIndex,
  compareCoordinates,
  coordinateGap,
  formatGtidPosition,
  gtidGaps,
  gtidIncludes,
  parseGtidPosition,
  sameGtidPosition,
} from '../../src/replication/position.js'

describe('GTID positions', () => {
  it('parses one GTID per domain, with spaces and line breaks as SHOW SLAVE STATUS may print them', () => {
    const pos = parseGtidPosition(' 0-1-100,\n1-2-7 ')
    expect([...pos.values()]).toEqual([
      {domain: 0, server: 1, sequence: 100n},
      {domain: 1, server: 2, sequence: 7n},
    ])
    expect(parseGtidPosition('').size).toBe(0)
    expect(formatGtidPosition(parseGtidPosition('1-2-7,0-1-100'))).toBe('0-1-100,1-2-7')
  })

  it('refuses what is not a GTID position, so that it never passes for caught up', () => {
    expect(() => parseGtidPosition('0-1')).toThrow(/not a GTID position/)
    expect(() => parseGtidPosition('binlog.000001:4')).toThrow()
  })

  it('compares domain by domain, whatever server wrote the sequence, with sequences beyond 2^53', () => {
    expect(gtidIncludes('0-1-100', '0-1-100')).toBe(true)
    expect(gtidIncludes('0-3-101', '0-1-100')).toBe(true)
    expect(gtidIncludes('0-1-99', '0-1-100')).toBe(false)
    // A domain only the replica has does not matter; one it lacks counts in full.
    expect(gtidIncludes('0-1-100,5-9-1', '0-1-100')).toBe(true)
    expect(gtidGaps('0-1-100', '0-1-103,1-2-4')).toEqual([
      {domain: 0, reached: 100n, target: 103n, missing: 3n},
      {domain: 1, reached: 0n, target: 4n, missing: 4n},
    ])
    expect(gtidGaps('0-1-18446744073709551610', '0-1-18446744073709551615')[0]!.missing).toBe(5n)
    expect(sameGtidPosition('1-2-7,0-1-100', '0-1-100,1-2-7')).toBe(true)
    expect(sameGtidPosition('0-1-100', '0-1-101')).toBe(false)
  })
})

describe('binlog coordinates', () => {
  it('orders files by their number, also past six digits', () => {
    expect(binlogFileIndex('mariadb-bin.000012')).toEqual({base: 'mariadb-bin', index: 12})
    expect(compareCoordinates({file: 'b.999999', position: 900}, {file: 'b.1000000', position: 4})).toBeLessThan(0)
    expect(compareCoordinates({file: 'b.000002', position: 4}, {file: 'b.000001', position: 9000})).toBeGreaterThan(0)
    expect(compareCoordinates({file: 'b.000002', position: 400}, {file: 'b.000002', position: 400})).toBe(0)
  })

  it('measures the gap in bytes within a file, in files across them', () => {
    expect(coordinateGap({file: 'b.000002', position: 400}, {file: 'b.000002', position: 1400})).toEqual({behind: true, bytes: 1000})
    expect(coordinateGap({file: 'b.000002', position: 400}, {file: 'b.000005', position: 4})).toEqual({behind: true, files: 3})
    expect(coordinateGap({file: 'b.000005', position: 400}, {file: 'b.000005', position: 400})).toEqual({behind: false})
  })
})
