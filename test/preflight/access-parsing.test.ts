import {describe, expect, it} from 'vitest'
import {databasePatternMatches, parseGrantLine} from '../../src/preflight/access/grants.js'
import {formatDuration, grantDatabase, parseUserAtHost, sqlString} from '../../src/preflight/access/sql.js'
import {convertTzNames, isNamedTimeZone} from '../../src/preflight/access/time-zones.js'

describe('parseGrantLine', () => {
  it('reads global privileges and the grant option, ignoring what the names and the password hash hold', () => {
    const grant = parseGrantLine(
      "GRANT SELECT, RELOAD, BINLOG MONITOR, SHOW VIEW ON *.* TO `it's ``me`` ON x`@`%` IDENTIFIED BY PASSWORD '*ABC' WITH GRANT OPTION",
    )
    expect(grant).toEqual({
      kind: 'privileges',
      privileges: new Set(['SELECT', 'RELOAD', 'BINLOG MONITOR', 'SHOW VIEW']),
      level: 'global',
      database: undefined,
      table: undefined,
      grantOption: true,
    })
    expect(parseGrantLine("GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*GRANT OPTION'")).toMatchObject({grantOption: false})
  })

  it('reads database, table, routine and column grants, and role grants', () => {
    expect(parseGrantLine('GRANT ALL PRIVILEGES ON `shop\\_eu`.* TO `u`@`%`')).toMatchObject({level: 'database', database: 'shop\\_eu', privileges: new Set(['ALL'])})
    expect(parseGrantLine('GRANT SELECT ON `mysql`.`proc` TO `u`@`%`')).toMatchObject({level: 'table', database: 'mysql', table: 'proc'})
    expect(parseGrantLine('GRANT EXECUTE ON PROCEDURE `shop`.`place_order` TO `u`@`%`')).toMatchObject({level: 'routine', table: 'place_order'})
    expect(parseGrantLine('GRANT SELECT (`a`, `b`), INSERT ON `shop`.`t` TO `u`@`%`')).toMatchObject({privileges: new Set(['INSERT'])})
    expect(parseGrantLine('GRANT `datain ops` TO `u`@`%` WITH ADMIN OPTION')).toEqual({kind: 'role', roles: ['datain ops']})
    expect(parseGrantLine('SET DEFAULT ROLE `datain ops` FOR `u`@`%`')).toBeUndefined()
  })
})

describe('databasePatternMatches', () => {
  it('treats _ and % as wildcards unless escaped, as GRANT does', () => {
    expect(databasePatternMatches('shop\\_eu', 'shop_eu', false)).toBe(true)
    expect(databasePatternMatches('shop\\_eu', 'shopXeu', false)).toBe(false)
    expect(databasePatternMatches('shop_eu', 'shopXeu', false)).toBe(true)
    expect(databasePatternMatches('sh%', 'shop', false)).toBe(true)
    expect(databasePatternMatches('Shop', 'shop', false)).toBe(false)
    expect(databasePatternMatches('Shop', 'shop', true)).toBe(true)
    expect(databasePatternMatches('a.b(c)', 'a.b(c)', false)).toBe(true)
  })

  it('round-trips a name through grantDatabase', () => {
    expect(grantDatabase("mon_db 'x' `q` 100%")).toBe("`mon\\_db 'x' ``q`` 100\\%`")
  })
})

describe('names and literals', () => {
  it('splits user@host at the last @, and quotes strings for fixes', () => {
    expect(parseUserAtHost('azureadmin@datain-replica@%')).toEqual({user: 'azureadmin@datain-replica', host: '%'})
    expect(parseUserAtHost('reporting')).toEqual({user: 'reporting'})
    expect(sqlString("o'brien\\x")).toBe("'o''brien\\\\x'")
  })

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

  it('formats durations in messages', () => {
    expect([45, 3599, 3600, 3660, 86_399, 90_000, 2_592_000].map(formatDuration)).toEqual(['45 s', '1 h', '1 h', '1 h 1 min', '1 d', '1 d 1 h', '30 d'])
  })
})
