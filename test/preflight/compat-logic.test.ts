import {describe, expect, it} from 'vitest'
import {filterHits, uncopiedDatabases, uncovered, wildIgnoreTableValue} from '../../src/preflight/compat/database-filter.js'
import {judgeSameVersion} from '../../src/preflight/compat/same-version.js'
import {judgeSourceVersion} from '../../src/preflight/compat/source-version.js'

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

describe('replication filter', () => {
  it('escapes wildcards so that no pattern reaches another database, and turns commas into a one-character wildcard', () => {
    expect(wildIgnoreTableValue(['crm', 'my_db', '100%', 'a\\b', 'we,ird'])).toBe('crm.%,my\\_db.%,100\\%.%,a\\\\b.%,we_ird.%')
    expect(filterHits(wildIgnoreTableValue(['my_db']), [{database: 'myXdb', tables: ['t']}])).toEqual([])
    expect(filterHits(wildIgnoreTableValue(['my_db']), [{database: 'MY_DB', tables: ['t']}])).toEqual(['MY_DB.t'])
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
})
