import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {parseCreateUser, parseGrantLine} from '../../src/accounts/parse.js'
import {parseUsersFlag} from '../../src/accounts/select.js'

/** How SHOW GRANTS writes a name: backticks, backticks inside doubled. */
const bq = (name: string) => `\`${name.replaceAll('`', '``')}\``

// Any text a name can hold: quotes, backticks, `%`, `_`, `@`, `.`, SQL keywords, unicode (BMP, as MariaDB's utf8mb3 names).
const name = fc.oneof(
  fc.string({unit: fc.constantFrom("'", '`', '"', '%', '_', '@', '.', ' ', '\\', 'ü', 'ö', '名', ',', '(', ')', '*', 'a', 'TO', 'ON', 'WITH GRANT OPTION'), minLength: 1, maxLength: 12}),
  fc.string({unit: 'grapheme-composite', minLength: 1, maxLength: 8}).filter((s) => [...s].every((c) => c.codePointAt(0)! <= 0xffff)),
)

describe('parseGrantLine', () => {
  it('reads any account, database, table and column name back as the server wrote it', () => {
    fc.assert(
      fc.property(name, name, name, name, name, fc.boolean(), (user, host, db, table, column, grantOption) => {
        const line =
          `GRANT SELECT (${bq(column)}, \`a\`), INSERT, CREATE TEMPORARY TABLES ON ${bq(db)}.${bq(table)} TO ${bq(user)}@${bq(host)}` +
          ` IDENTIFIED BY PASSWORD '*WITH GRANT OPTION'${grantOption ? ' WITH GRANT OPTION' : ''}`
        expect(parseGrantLine(line)).toEqual({
          kind: 'privileges',
          privileges: [{name: 'SELECT', columns: [column, 'a']}, {name: 'INSERT'}, {name: 'CREATE TEMPORARY TABLES'}],
          on: {level: 'table', database: db, table},
          to: {user, host},
          grantOption,
        })
      }),
      {numRuns: 300},
    )
  })

  it('tells the levels apart, a table named `*` from the wildcard, and routines', () => {
    expect(parseGrantLine('GRANT ALL PRIVILEGES ON *.* TO `r`')).toMatchObject({on: {level: 'global'}, to: {user: 'r'}, privileges: [{name: 'ALL PRIVILEGES'}]})
    expect(parseGrantLine("GRANT SELECT ON `shop\\_eu`.* TO `u`@`%`")).toMatchObject({on: {level: 'database', pattern: 'shop\\_eu'}})
    expect(parseGrantLine('GRANT SELECT ON `d`.`*` TO `u`@`%`')).toMatchObject({on: {level: 'table', database: 'd', table: '*'}})
    expect(parseGrantLine('GRANT EXECUTE, ALTER ROUTINE ON PROCEDURE `d`.`p` TO `u`@`h`')).toMatchObject({
      on: {level: 'routine', kind: 'PROCEDURE', database: 'd', name: 'p'},
      privileges: [{name: 'EXECUTE'}, {name: 'ALTER ROUTINE'}],
    })
    expect(parseGrantLine('GRANT EXECUTE ON PACKAGE BODY `d`.`p` TO `u`@`h`')).toMatchObject({on: {kind: 'PACKAGE BODY'}})
  })

  it('reads role grants, admin option and default roles; a hash cannot fake an option', () => {
    expect(parseGrantLine('GRANT `r o``le` TO `u`@`%` WITH ADMIN OPTION')).toEqual({kind: 'role', roles: ['r o`le'], to: {user: 'u', host: '%'}, adminOption: true})
    expect(parseGrantLine('GRANT `base` TO `reader`')).toEqual({kind: 'role', roles: ['base'], to: {user: 'reader'}, adminOption: false})
    expect(parseGrantLine('SET DEFAULT ROLE `r` FOR `u`@`h`')).toEqual({kind: 'default-role', role: 'r', to: {user: 'u', host: 'h'}})
    expect(parseGrantLine("GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED VIA ed25519 USING ' WITH GRANT OPTION'")).toMatchObject({grantOption: false})
    expect(parseGrantLine("GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION")).toBeUndefined()
    expect(parseGrantLine('REVOKE SELECT ON *.* FROM `u`')).toBeUndefined()
  })
})

describe('parseCreateUser', () => {
  it('keeps hashes apart as values to bind, and the options as the server wrote them', () => {
    expect(parseCreateUser("CREATE USER `a'b``c`@`h%` IDENTIFIED BY PASSWORD '*2B60' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 5 PASSWORD EXPIRE ACCOUNT LOCK")).toEqual({
      account: {user: "a'b`c", host: 'h%'},
      auth: {clause: 'IDENTIFIED BY PASSWORD ?', values: ['*2B60'], options: 'REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 5 PASSWORD EXPIRE ACCOUNT LOCK'},
    })
    expect(parseCreateUser("CREATE USER `u`@`%` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket")?.auth).toEqual({
      clause: 'IDENTIFIED VIA mysql_native_password USING ? OR unix_socket',
      values: ['invalid'],
      options: '',
    })
    expect(parseCreateUser("CREATE USER `u`@`%` IDENTIFIED VIA ed25519 USING 'x'' REQUIRE'")?.auth).toEqual({clause: 'IDENTIFIED VIA ed25519 USING ?', values: ["x' REQUIRE"], options: ''})
    expect(parseCreateUser('CREATE USER `u`@`%`')?.auth).toEqual({clause: '', values: [], options: ''})
    // Options run verbatim on the replica: anything but keywords, numbers and strings is refused.
    expect(parseCreateUser("CREATE USER `u`@`%` IDENTIFIED BY PASSWORD '*1' ACCOUNT LOCK; DROP USER `x`")).toBeUndefined()
    expect(parseCreateUser("CREATE USER `u`@`%` REQUIRE SUBJECT '/CN=a' AND ISSUER '/CN=b' WITH MAX_USER_CONNECTIONS 3")?.auth.options).toBe(
      "REQUIRE SUBJECT '/CN=a' AND ISSUER '/CN=b' WITH MAX_USER_CONNECTIONS 3",
    )
  })
})

describe('parseUsersFlag', () => {
  it('reads accounts and roles, whatever they hold', () => {
    expect(parseUsersFlag(`'app'@'%', "o'q"@'h_ö',\`r\`\`x\`,reporting`)).toEqual([
      {user: 'app', host: '%'},
      {user: "o'q", host: 'h_ö'},
      {user: 'r`x'},
      {user: 'reporting'},
    ])
  })

  it('refuses what is not a list of accounts (usage, exit 2)', () => {
    for (const bad of ['', ' ', "'a'@", "'a'@'h' 'b'", "'a',", ",'a'", "'a'@'h'@'x'", "'a';DROP USER x"]) {
      expect(() => parseUsersFlag(bad), bad).toThrow(expect.objectContaining({code: 'E_USERS_SYNTAX', exitCode: 2}))
    }
  })
})
