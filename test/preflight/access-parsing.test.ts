import {describe, expect, it} from 'vitest'
import {convertTzNames, isNamedTimeZone} from '../../src/preflight/access/time-zones.js'

describe('time zones', () => {
  it('finds zone names passed to CONVERT_TZ as literals, not offsets or expressions', () => {
    expect(isNamedTimeZone('SYSTEM')).toBe(false)
    expect(isNamedTimeZone('+01:00')).toBe(false)
    expect(isNamedTimeZone('-9:30')).toBe(false)
    expect(isNamedTimeZone('UTC')).toBe(true)
    expect(convertTzNames("SELECT convert_tz(CONCAT('a,', b), '+00:00', _utf8mb4'Europe/Paris'), CONVERT_TZ (x, @tz, \"UTC\")")).toEqual([
      'Europe/Paris',
      'UTC',
    ])
  })
})
