import {describe, expect, it} from 'vitest'
import {filterHits, uncopiedDatabases, uncovered, wildIgnoreTableValue} from '../../src/preflight/compat/database-filter.js'
import {canExecute, parseGrants} from '../../src/preflight/compat/grants.js'
import {judgeSameVersion} from '../../src/preflight/compat/same-version.js'
import {judgeSourceVersion} from '../../src/preflight/compat/source-version.js'
import {escapeLike, likeMatch, quoteIdentifier, quoteString, quoteTable} from '../../src/preflight/compat/sql.js'

// Pure logic behind the checks, for the cases no sandbox can produce (a MySQL source, another MariaDB line).

describe('source-version', () => {
  it.each([
    ['8.0.36', 'MySQL Community Server - GPL'],
    ['8.0.35-27', 'Percona Server (GPL), Release 27'],
    ['5.7.44-log', 'MySQL Community Server (GPL)'],
  ])('fails a MySQL-family source %s (%s) and says why', (version, comment) => {
    const r = judgeSourceVersion(version, comment)
    expect(r.status).toBe('fail')
    expect(r.message).toContain('not MariaDB')
    expect(r.message).toContain(version)
    expect(r.fix).toContain('Azure Database for MySQL')
  })

  it('fails MariaDB older than 10.2, passes 10.2 and later, and knows MariaDB from the comment alone', () => {
    expect(judgeSourceVersion('10.1.48-MariaDB', 'MariaDB Server')).toMatchObject({status: 'fail', message: expect.stringContaining('MariaDB 10.1')})
    expect(judgeSourceVersion('5.5.68-MariaDB', 'MariaDB Server').status).toBe('fail')
    expect(judgeSourceVersion('10.2.44-MariaDB-log', 'mariadb.org binary distribution').status).toBe('pass')
    expect(judgeSourceVersion('11.4.2-MariaDB', '').status).toBe('pass')
    expect(judgeSourceVersion('10.6.18', 'mariadb.org binary distribution').status).toBe('pass')
  })
})

describe('same-version', () => {
  it('compares major.minor only', () => {
    expect(judgeSameVersion('10.3.39-MariaDB-log', '10.3.23-MariaDB').status).toBe('pass')
    const r = judgeSameVersion('10.6.16-MariaDB', '10.3.23-MariaDB')
    expect(r).toMatchObject({status: 'fail', message: expect.stringContaining('10.6 and 10.3')})
    expect(r.fix).toContain('--version 10.6')
  })
})

describe('quoting', () => {
  it('quotes identifiers and strings whatever they hold', () => {
    expect(quoteIdentifier("it's `odd` ünï")).toBe("`it's ``odd`` ünï`")
    expect(quoteTable('a b', 'c`d')).toBe('`a b`.`c``d`')
    expect(quoteString("it's a \\ path")).toBe("'it''s a \\\\ path'")
  })
})

describe('replication filter', () => {
  it('escapes wildcards so that no pattern reaches another database, and turns commas into a one-character wildcard', () => {
    expect(wildIgnoreTableValue(['crm', 'my_db', '100%', 'a\\b', 'we,ird'])).toBe('crm.%,my\\_db.%,100\\%.%,a\\\\b.%,we_ird.%')
    expect(likeMatch(`${escapeLike('my_db')}.%`, 'myXdb.t', {caseInsensitive: true})).toBe(false)
    expect(likeMatch(`${escapeLike('my_db')}.%`, 'MY_DB.t', {caseInsensitive: true})).toBe(true)
  })

  it('lists the databases left out, by the source\'s case rule', () => {
    expect(uncopiedDatabases(['Shop', 'crm', 'shop'], ['shop'], false)).toEqual(['Shop', 'crm'])
    expect(uncopiedDatabases(['crm', 'shop'], ['SHOP'], true)).toEqual(['crm'])
  })

  it('tells which databases a value leaves uncovered, and which copied tables it would skip', () => {
    expect(uncovered('crm.%, my\\_db.%', ['crm', 'my_db', 'hr'])).toEqual(['hr'])
    expect(uncovered('crm.leads', ['crm'])).toEqual(['crm'])
    expect(uncovered('c%.%', ['crm'])).toEqual([])
    expect(filterHits('crm.%,s%.%', [{database: 'shop', tables: ['orders']}, {database: 'hr', tables: []}])).toEqual(['shop.orders'])
    expect(filterHits('we_ird.%', [{database: 'weXird', tables: []}])).toEqual(['weXird.'])
  })

  it('matches LIKE patterns without exponential backtracking', () => {
    expect(likeMatch('%a%a%a%a%a%a%a%a%b', 'a'.repeat(200), {caseInsensitive: false})).toBe(false)
    expect(likeMatch('a_c', 'abc', {caseInsensitive: false})).toBe(true)
    expect(likeMatch('a\\_c', 'abc', {caseInsensitive: false})).toBe(false)
  })
})

describe('SHOW GRANTS', () => {
  const grants = parseGrants([
    "GRANT SELECT, INSERT ON *.* TO `admin@srv`@`%` IDENTIFIED BY PASSWORD '*ABC' WITH GRANT OPTION",
    'GRANT EXECUTE ON `my\\_x`.* TO `admin@srv`@`%`',
    'GRANT EXECUTE ON PROCEDURE `mysql`.`az_replication_start` TO `admin@srv`@`%`',
    'GRANT ALL PRIVILEGES ON `odd ``db```.* TO `admin@srv`@`%`',
    'GRANT SELECT (`a`, `b`), UPDATE ON `shop`.`t` TO `admin@srv`@`%`',
    'GRANT `app_role` TO `admin@srv`@`%`',
  ])
  const can = (db: string, proc: string) => canExecute(grants, db, proc, {caseInsensitiveDatabases: true})

  it('reads global, database (patterns), routine and ALL PRIVILEGES grants', () => {
    expect(grants.map((g) => g.on.level)).toEqual(['global', 'database', 'routine', 'database'])
    expect(can('mysql', 'az_replication_start')).toBe(true)
    expect(can('mysql', 'AZ_REPLICATION_START')).toBe(true)
    expect(can('mysql', 'az_replication_stop')).toBe(false)
    expect(can('my_x', 'p')).toBe(true)
    expect(can('myXx', 'p')).toBe(false)
    expect(can('odd `db`', 'p')).toBe(true)
  })

  it('counts global EXECUTE and ALL PRIVILEGES on *.*', () => {
    expect(canExecute(parseGrants(['GRANT EXECUTE, SELECT ON *.* TO `u`@`%`']), 'mysql', 'x', {caseInsensitiveDatabases: true})).toBe(true)
    expect(canExecute(parseGrants(['GRANT ALL PRIVILEGES ON *.* TO `u`@`%`']), 'mariadb', 'x', {caseInsensitiveDatabases: true})).toBe(true)
    expect(canExecute(parseGrants(['GRANT USAGE ON *.* TO `u`@`%`']), 'mysql', 'x', {caseInsensitiveDatabases: true})).toBe(false)
  })
})
