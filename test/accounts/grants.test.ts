import {describe, expect, it} from 'vitest'
import {definitionUnits, grantable} from '../../src/accounts/grants.js'
import {parseGrantLine, type PrivilegeGrant} from '../../src/accounts/parse.js'
import type {AccountDefinition, AdminPowers} from '../../src/accounts/read.js'

const KNOWN = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'SUPER', 'PROCESS', 'DELETE HISTORY', 'EXECUTE', 'ALTER ROUTINE', 'BINLOG ADMIN'])
/** Like Azure's admin: most privileges WITH GRANT OPTION, not SUPER, BINLOG ADMIN or DELETE HISTORY. */
const AZURE: AdminPowers = {
  account: {user: 'azureadmin@srv', host: '%'},
  all: false,
  grantable: new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'PROCESS', 'EXECUTE', 'ALTER ROUTINE']),
  known: KNOWN,
}

const definition = (...lines: string[]): AccountDefinition => ({
  account: {user: 'u', host: '%'},
  role: false,
  grants: lines.map((l) => parseGrantLine(l) as PrivilegeGrant),
  roles: [],
  unsupported: [],
})

describe('grantable', () => {
  it('keeps what the admin can give and lists the rest, ALL PRIVILEGES included', () => {
    const {grants, leftOut} = grantable(
      definition('GRANT SUPER, PROCESS ON *.* TO `u`@`%` WITH GRANT OPTION', 'GRANT ALL PRIVILEGES ON `d\\_1`.* TO `u`@`%`', 'GRANT ALL PRIVILEGES ON *.* TO `u`@`%`'),
      AZURE,
      new Set(),
    )
    expect(grants.map((g) => [g.privileges.map((p) => p.name), g.grantOption])).toEqual([
      [['PROCESS'], true],
      [['ALTER ROUTINE', 'CREATE', 'DELETE', 'DROP', 'EXECUTE', 'INSERT', 'SELECT', 'UPDATE'], false],
      [['ALTER ROUTINE', 'CREATE', 'DELETE', 'DROP', 'EXECUTE', 'INSERT', 'PROCESS', 'SELECT', 'UPDATE'], false],
    ])
    expect(leftOut).toEqual([
      "SUPER ON *.*: the replica's admin cannot grant it",
      "DELETE HISTORY ON `d\\_1`.* (of ALL PRIVILEGES): the replica's admin cannot grant it",
      "BINLOG ADMIN ON *.* (of ALL PRIVILEGES): the replica's admin cannot grant it",
      "DELETE HISTORY ON *.* (of ALL PRIVILEGES): the replica's admin cannot grant it",
      "SUPER ON *.* (of ALL PRIVILEGES): the replica's admin cannot grant it",
    ])
  })

  it('gives everything for an admin with ALL PRIVILEGES, but nothing on an object the replica lacks', () => {
    const source = definition('GRANT SUPER ON *.* TO `u`@`%`', 'GRANT SELECT (`a`) ON `d`.`gone` TO `u`@`%`')
    const {grants, leftOut} = grantable(source, {...AZURE, all: true}, new Set(['`d`.`gone`']))
    expect(grants).toEqual([source.grants[0]])
    expect(leftOut).toEqual([expect.stringMatching(/^SELECT \(`a`\) ON `d`.`gone`: no such object on the replica/)])
  })

  it('passes on no grant option when the admin holds none', () => {
    const {grants, leftOut} = grantable(definition('GRANT SELECT ON `d`.* TO `u`@`%` WITH GRANT OPTION'), {...AZURE, grantable: new Set()}, new Set())
    expect(grants).toEqual([])
    expect(leftOut).toEqual(["SELECT ON `d`.*: the replica's admin cannot grant it", "WITH GRANT OPTION ON `d`.*: the replica's admin cannot grant it"])
  })
})

describe('definitionUnits', () => {
  it('compares grants whatever their grouping, ALL PRIVILEGES spelled out, column and routine names without case', () => {
    const a = definitionUnits(definition('GRANT SELECT (`A`), INSERT ON `d`.`t` TO `u`@`%`', 'GRANT EXECUTE ON PROCEDURE `d`.`P` TO `u`@`%`'), KNOWN)
    const b = definitionUnits(definition('GRANT INSERT ON `d`.`t` TO `u`@`%`', 'GRANT SELECT (`a`) ON `d`.`t` TO `u`@`%`', 'GRANT EXECUTE ON PROCEDURE `d`.`p` TO `u`@`%`'), KNOWN)
    expect(a).toEqual(b)
    expect(definitionUnits(definition('GRANT ALL PRIVILEGES ON `d`.* TO `u`@`%`'), KNOWN)).toEqual(
      definitionUnits(definition('GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, EXECUTE, ALTER ROUTINE, DELETE HISTORY ON `d`.* TO `u`@`%`'), KNOWN),
    )
  })
})
