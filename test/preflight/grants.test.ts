import {describe, expect, it} from 'vitest'
import {canExecute, databasePatternMatches, parseGrantLine, parseGrants} from '../../src/preflight/grants.js'

/** SHOW GRANTS of an Azure-like admin: global, database pattern, routine, ALL PRIVILEGES, column/table and role grants. */
const ADMIN_GRANTS = [
  "GRANT SELECT, INSERT ON *.* TO `admin@srv`@`%` IDENTIFIED BY PASSWORD '*ABC' WITH GRANT OPTION",
  'GRANT EXECUTE ON `my\\_x`.* TO `admin@srv`@`%`',
  'GRANT EXECUTE ON PROCEDURE `mysql`.`az_replication_start` TO `admin@srv`@`%`',
  'GRANT ALL PRIVILEGES ON `odd ``db```.* TO `admin@srv`@`%`',
  'GRANT SELECT (`a`, `b`), UPDATE ON `shop`.`t` TO `admin@srv`@`%`',
  'GRANT `app_role` TO `admin@srv`@`%`',
]

describe('parseGrantLine', () => {
  it('reads global privileges and the grant option, ignoring what the names and the password hash hold', () => {
    const grant = parseGrantLine(
      "GRANT SELECT, RELOAD, BINLOG MONITOR, SHOW VIEW ON *.* TO `it's ``me`` ON x`@`%` IDENTIFIED BY PASSWORD '*ABC' WITH GRANT OPTION",
    )
    expect(grant).toEqual({
      kind: 'privileges',
      privileges: new Set(['SELECT', 'RELOAD', 'BINLOG MONITOR', 'SHOW VIEW']),
      on: {level: 'global'},
      grantOption: true,
    })
    expect(parseGrantLine("GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*GRANT OPTION'")).toMatchObject({grantOption: false})
  })

  it('reads database, table, routine and column grants, and role grants', () => {
    expect(parseGrantLine('GRANT ALL PRIVILEGES ON `shop\\_eu`.* TO `u`@`%`')).toMatchObject({on: {level: 'database', pattern: 'shop\\_eu'}, privileges: new Set(['ALL'])})
    expect(parseGrantLine('GRANT SELECT ON `mysql`.`proc` TO `u`@`%`')).toMatchObject({on: {level: 'table', database: 'mysql', table: 'proc'}})
    expect(parseGrantLine('GRANT EXECUTE ON PROCEDURE `shop`.`place_order` TO `u`@`%`')).toMatchObject({
      on: {level: 'routine', kind: 'PROCEDURE', database: 'shop', name: 'place_order'},
    })
    expect(parseGrantLine('GRANT EXECUTE ON PACKAGE BODY `shop`.`p` TO `u`@`%`')).toMatchObject({on: {level: 'routine', kind: 'PACKAGE BODY'}})
    expect(parseGrantLine('GRANT SELECT (`a`, `b`), INSERT ON `shop`.`t` TO `u`@`%`')).toMatchObject({privileges: new Set(['INSERT'])})
    expect(parseGrantLine('GRANT ALL PRIVILEGES ON `odd ``db```.* TO `u`@`%`')).toMatchObject({on: {level: 'database', pattern: 'odd `db`'}})
    expect(parseGrantLine('GRANT `datain ops` TO `u`@`%` WITH ADMIN OPTION')).toEqual({kind: 'role', roles: ['datain ops']})
    expect(parseGrantLine('SET DEFAULT ROLE `datain ops` FOR `u`@`%`')).toBeUndefined()
    expect(parseGrantLine("GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION")).toBeUndefined()
  })

  it('keeps only the privilege grants of a list', () => {
    const grants = parseGrants(ADMIN_GRANTS)
    expect(grants.map((g) => g.on.level)).toEqual(['global', 'database', 'routine', 'database', 'table'])
  })
})

describe('databasePatternMatches', () => {
  it('treats _ and % as wildcards unless escaped, as GRANT does', () => {
    const match = (pattern: string, name: string, caseInsensitive: boolean) => databasePatternMatches(pattern, name, {caseInsensitive})
    expect(match('shop\\_eu', 'shop_eu', false)).toBe(true)
    expect(match('shop\\_eu', 'shopXeu', false)).toBe(false)
    expect(match('shop_eu', 'shopXeu', false)).toBe(true)
    expect(match('sh%', 'shop', false)).toBe(true)
    expect(match('Shop', 'shop', false)).toBe(false)
    expect(match('Shop', 'shop', true)).toBe(true)
    expect(match('a.b(c)', 'a.b(c)', false)).toBe(true)
  })
})

describe('canExecute', () => {
  const grants = parseGrants(ADMIN_GRANTS)
  const can = (db: string, proc: string) => canExecute(grants, db, proc, {caseInsensitiveDatabases: true})

  it('reads global, database (patterns), routine and ALL PRIVILEGES grants', () => {
    expect(can('mysql', 'az_replication_start')).toBe(true)
    expect(can('mysql', 'AZ_REPLICATION_START')).toBe(true)
    expect(can('mysql', 'az_replication_stop')).toBe(false)
    expect(can('my_x', 'p')).toBe(true)
    expect(can('myXx', 'p')).toBe(false)
    expect(can('odd `db`', 'p')).toBe(true)
  })

  it('counts global EXECUTE and ALL PRIVILEGES on *.*, not ALL on a table or EXECUTE on a function', () => {
    const one = (line: string, db = 'mysql', proc = 'x') => canExecute(parseGrants([line]), db, proc, {caseInsensitiveDatabases: true})
    expect(one('GRANT EXECUTE, SELECT ON *.* TO `u`@`%`')).toBe(true)
    expect(one('GRANT ALL PRIVILEGES ON *.* TO `u`@`%`', 'mariadb')).toBe(true)
    expect(one('GRANT USAGE ON *.* TO `u`@`%`')).toBe(false)
    expect(one('GRANT ALL PRIVILEGES ON `mysql`.`x` TO `u`@`%`')).toBe(false)
    expect(one('GRANT EXECUTE ON FUNCTION `mysql`.`x` TO `u`@`%`')).toBe(false)
  })

  it('compares database names by the server\'s case rule', () => {
    const line = ['GRANT EXECUTE ON PROCEDURE `MySQL`.`p` TO `u`@`%`']
    expect(canExecute(parseGrants(line), 'mysql', 'p', {caseInsensitiveDatabases: true})).toBe(true)
    expect(canExecute(parseGrants(line), 'mysql', 'p', {caseInsensitiveDatabases: false})).toBe(false)
  })
})
