import {describe, expect, it} from 'vitest'
import {
  escapeLike,
  isOn,
  likeMatch,
  parseUserAtHost,
  parseVersion,
  placeholders,
  quoteAccount,
  quoteGrantDatabase,
  quoteIdentifier,
  quoteQualified,
  quoteString,
  sameAccount,
  versionAtLeast,
} from '../../src/lib/sql.js'

describe('quoting', () => {
  it('quotes identifiers and strings whatever they hold', () => {
    expect(quoteIdentifier("it's `odd` ünï")).toBe("`it's ``odd`` ünï`")
    expect(quoteQualified('a b', 'c`d')).toBe('`a b`.`c``d`')
    expect(quoteString("it's a \\ path")).toBe("'it''s a \\\\ path'")
    expect(quoteString("o'brien\\x")).toBe("'o''brien\\\\x'")
  })

  it('quotes accounts, and roles without a host', () => {
    expect(quoteAccount({user: "it's", host: '%'})).toBe("'it''s'@'%'")
    expect(quoteAccount({user: 'reporting'})).toBe("'reporting'")
  })

  it('escapes the wildcards of a database name in GRANT', () => {
    expect(quoteGrantDatabase("mon_db 'x' `q` 100%")).toBe("`mon\\_db 'x' ``q`` 100\\%`")
    expect(quoteGrantDatabase('a\\b')).toBe('`a\\\\b`')
  })
})

describe('accounts', () => {
  it('splits user@host at the last @', () => {
    expect(parseUserAtHost('azureadmin@datain-replica@%')).toEqual({user: 'azureadmin@datain-replica', host: '%'})
    expect(parseUserAtHost('reporting')).toEqual({user: 'reporting'})
  })

  it('compares hosts without regard to case, users exactly, and never a role with a user', () => {
    expect(sameAccount({user: 'u', host: 'LocalHost'}, {user: 'u', host: 'localhost'})).toBe(true)
    expect(sameAccount({user: 'U', host: '%'}, {user: 'u', host: '%'})).toBe(false)
    expect(sameAccount({user: 'r'}, {user: 'r', host: ''})).toBe(false)
  })
})

describe('LIKE patterns', () => {
  it('escapes wildcards so that a name matches only itself', () => {
    expect(likeMatch(`${escapeLike('my_db')}.%`, 'myXdb.t', {caseInsensitive: true})).toBe(false)
    expect(likeMatch(`${escapeLike('my_db')}.%`, 'MY_DB.t', {caseInsensitive: true})).toBe(true)
    expect(likeMatch(escapeLike('a\\b%'), 'a\\b%', {caseInsensitive: false})).toBe(true)
  })

  it('matches LIKE patterns without exponential backtracking', () => {
    expect(likeMatch('%a%a%a%a%a%a%a%a%b', 'a'.repeat(200), {caseInsensitive: false})).toBe(false)
    expect(likeMatch('a_c', 'abc', {caseInsensitive: false})).toBe(true)
    expect(likeMatch('a\\_c', 'abc', {caseInsensitive: false})).toBe(false)
    expect(likeMatch('a.b(c)', 'a.b(c)', {caseInsensitive: false})).toBe(true)
    expect(likeMatch('ab\\', 'ab\\', {caseInsensitive: false})).toBe(true)
  })
})

describe('queries', () => {
  it('writes at least one placeholder', () => {
    expect(placeholders(3)).toBe('?, ?, ?')
    expect(placeholders(0)).toBe('?')
  })

  it('reads switches as SHOW, @@ and ARM write them', () => {
    expect(['ON', 'on', 1, '1', 'TRUE'].map(isOn)).toEqual([true, true, true, true, true])
    expect(['OFF', 0, '0', '', null, undefined].map(isOn)).toEqual([false, false, false, false, false, false])
  })
})

describe('versions', () => {
  it('reads major.minor.patch from VERSION() text', () => {
    expect(parseVersion('10.11.19-MariaDB-0+deb12u1-log')).toEqual({major: 10, minor: 11, patch: 19})
    expect(parseVersion(' 10.6 ')).toEqual({major: 10, minor: 6, patch: 0})
    expect(parseVersion('MariaDB')).toBeUndefined()
  })

  it('compares versions number by number', () => {
    const v = parseVersion('10.5.2-MariaDB')!
    expect(versionAtLeast(v, 10, 5, 2)).toBe(true)
    expect(versionAtLeast(v, 10, 5, 3)).toBe(false)
    expect(versionAtLeast(v, 10, 4, 99)).toBe(true)
    expect(versionAtLeast(v, 10, 10)).toBe(false)
    expect(versionAtLeast(parseVersion('11.0.1')!, 10, 11)).toBe(true)
  })
})
