import mariadb from 'mariadb'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {allowLoopback, blockLoopback} from '../helpers/preflight.js'
import {dispose, type Env, json, newEnv} from '../stop/helpers.js'

/**
 * `datain accounts` against the sandbox: the source's accounts and roles copied to the emulated
 * Azure replica, whose admin lacks SUPER and the other admin privileges.
 */

interface AccountJson {
  account: string
  role: boolean
  action: string
  statements: string[]
  leftOut: string[]
  differences: string[]
  error?: string
}
interface ResultJson {
  dryRun: boolean
  accounts: AccountJson[]
  exitCode: number
}
interface ErrorJson {
  error: {code: string; exit: number; message: string}
}

const HOSTILE_USER = "o'q`b%_ü\"x"
const HOSTILE_HOST = 'h%st_ö'
const hostile = `'${HOSTILE_USER.replaceAll("'", "''")}'@'${HOSTILE_HOST}'`
const PASSWORDS = {tab: 'TabPw-1', ed: 'EdPw-2', boss: 'BossPw-3', hostile: "Ho'stile-4"}

const SOURCE_SETUP = [
  "INSTALL SONAME 'auth_ed25519'",
  'CREATE DATABASE app',
  'CREATE TABLE app.t (id INT PRIMARY KEY, a INT, `c o` INT) ENGINE=InnoDB',
  'CREATE PROCEDURE app.p() SELECT 1',
  "CREATE DATABASE `we'ird`",
  `CREATE USER 'tab'@'%' IDENTIFIED BY '${PASSWORDS.tab}'`,
  "GRANT SELECT (a, `c o`), INSERT ON app.t TO 'tab'@'%'",
  "GRANT UPDATE ON app.t TO 'tab'@'%' WITH GRANT OPTION",
  "GRANT EXECUTE ON PROCEDURE app.p TO 'tab'@'%'",
  'CREATE ROLE base_role',
  'CREATE ROLE reader',
  'GRANT SELECT ON app.* TO base_role',
  'GRANT base_role TO reader',
  'GRANT SHOW VIEW ON app.* TO reader',
  `CREATE USER 'ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('${PASSWORDS.ed}')`,
  "GRANT reader TO 'ed'@'%'",
  "SET DEFAULT ROLE reader FOR 'ed'@'%'",
  `CREATE USER 'boss'@'%' IDENTIFIED BY '${PASSWORDS.boss}'`,
  "GRANT SUPER, PROCESS, SELECT ON *.* TO 'boss'@'%' WITH GRANT OPTION",
  `CREATE USER ${hostile} IDENTIFIED BY 'Ho''stile-4'`,
  `GRANT SELECT ON \`we'ird\`.* TO ${hostile}`,
  `CREATE USER 'other'@'%' IDENTIFIED BY 'OtherPw-5'`,
  "GRANT SELECT ON app.* TO 'other'@'%'",
  // A table the replica does not have (a database left out of the copy, say): GRANT on it would fail.
  'CREATE TABLE app.only_source (id INT PRIMARY KEY) ENGINE=InnoDB',
  "CREATE USER 'miss'@'%'",
  "GRANT SELECT ON app.only_source TO 'miss'@'%'",
  "GRANT SELECT ON app.t TO 'miss'@'%'",
]

describe('datain accounts', () => {
  let e: Env
  let hashes: string[] = []
  beforeAll(async () => {
    e = await newEnv({sampleRows: 20})
    await e.sandbox.source.server.execute(SOURCE_SETUP)
    // ed25519 is a plugin: the replica must have it to take such an account (Azure does not offer it).
    await e.sandbox.replica.server.execute([
      "INSTALL SONAME 'auth_ed25519'",
      'CREATE DATABASE app',
      'CREATE TABLE app.t (id INT PRIMARY KEY, a INT, `c o` INT) ENGINE=InnoDB',
      'CREATE PROCEDURE app.p() SELECT 1',
      // An account the replica already has, with other grants than on the source.
      "CREATE USER 'other'@'%' IDENTIFIED BY 'ReplicaOwn-6'",
      "GRANT INSERT ON app.* TO 'other'@'%'",
    ])
    const rows = await e.sandbox.source.server.query<Array<{auth: string}>>(
      "SELECT JSON_VALUE(Priv, '$.authentication_string') AS auth FROM mysql.global_priv WHERE User IN ('tab', 'ed', 'boss', 'other') OR Host = ?",
      [HOSTILE_HOST],
    )
    hashes = rows.map((r) => r.auth)
    expect(hashes.length).toBe(5)
    expect((await e.run(['init'])).exitCode).toBe(0)
    // What 'datain start' would do first: a firewall rule for this machine.
    allowLoopback(e.sandbox)
  })
  afterAll(() => dispose(e))

  const replicaUsers = () => e.sandbox.replica.server.query<unknown[]>('SELECT User, Host, Priv FROM mysql.global_priv ORDER BY User, Host')
  const replicaGrants = async (account: string) =>
    (await e.sandbox.replica.server.query<Array<Record<string, string>>>(`SHOW GRANTS FOR ${account}`)).map((r) => Object.values(r)[0]).sort()

  function expectNoHashes(): void {
    for (const output of e.outputs) {
      for (const secret of [...hashes, ...Object.values(PASSWORDS), e.sandbox.source.password, e.sandbox.replica.password]) expect(output).not.toContain(secret)
    }
  }

  it('says so (exit 4) while the replica firewall refuses this machine', async () => {
    blockLoopback(e.sandbox)
    try {
      expect((await json<ErrorJson>(e, ['accounts'], 4)).error.code).toBe('E_REPLICA_FIREWALL')
    } finally {
      allowLoopback(e.sandbox)
    }
  })

  it('refuses bad --users (exit 2) before it changes anything', async () => {
    const before = await replicaUsers()
    for (const users of ["'tab'@", "'tab'@'%' 'ed'", "'tab'@'%',", '']) {
      expect((await json<ErrorJson>(e, ['accounts', '--users', users], 2)).error.code).toBe('E_USERS_SYNTAX')
    }
    expect((await json<ErrorJson>(e, ['accounts', '--users', "'nobody'@'%'"], 2)).error.code).toBe('E_USERS')
    const repl = await json<ErrorJson>(e, ['accounts', '--users', "'root'@'localhost'"], 2)
    expect(repl.error.message).toMatch(/system account/)
    expect(await replicaUsers()).toEqual(before)
  })

  it('--dry-run prints the statements with hashes masked and changes nothing', async () => {
    const before = await replicaUsers()
    const result = await e.run(['accounts', '--dry-run'])
    expect(result.exitCode, result.stderr).toBe(1)
    expect(result.stdout).toMatch(/CREATE USER 'tab'@'%' IDENTIFIED BY PASSWORD '\*\*\*'/)
    expect(result.stdout).toMatch(/CREATE USER 'ed'@'%' IDENTIFIED VIA ed25519 USING '\*\*\*'/)
    expect(result.stdout).toContain("left out: SUPER ON *.*: the replica's admin cannot grant it")
    expect(await replicaUsers()).toEqual(before)
    expectNoHashes()
  })

  it('copies accounts, roles and grants; leaves out SUPER and lists it; leaves the differing account alone', async () => {
    const result = await json<ResultJson>(e, ['accounts'], 1)
    const by = Object.fromEntries(result.accounts.map((a) => [a.account, a]))
    // 'app'@'%' is the sandbox's sample definer; datain_admin (datain's own) and the system accounts stay out.
    expect(Object.keys(by).sort()).toEqual(["'app'@'%'", "'base_role'", "'boss'@'%'", "'ed'@'%'", "'miss'@'%'", "'other'@'%'", "'reader'", "'tab'@'%'", hostile].sort())
    expect(by["'boss'@'%'"]).toMatchObject({action: 'create', leftOut: ["SUPER ON *.*: the replica's admin cannot grant it"]})
    expect(by["'miss'@'%'"]).toMatchObject({action: 'create', leftOut: [expect.stringMatching(/^SELECT ON `app`.`only_source`: no such object on the replica/)]})
    expect(await replicaGrants("'miss'@'%'")).toEqual(['GRANT SELECT ON `app`.`t` TO `miss`@`%`', 'GRANT USAGE ON *.* TO `miss`@`%`'])
    expect(by["'other'@'%'"]).toMatchObject({
      action: 'differs',
      statements: [],
      differences: ['authentication (plugin, hash or account options) differs', 'missing on the replica: SELECT ON `app`.*', 'only on the replica: INSERT ON `app`.*'],
    })
    for (const name of ["'tab'@'%'", "'ed'@'%'", "'reader'", "'base_role'"]) expect(by[name]).toMatchObject({action: 'create', leftOut: []})

    expect(await replicaGrants("'tab'@'%'")).toEqual([
      "GRANT EXECUTE ON PROCEDURE `app`.`p` TO `tab`@`%`",
      expect.stringMatching(/^GRANT SELECT \(`(a|c o)`, `(a|c o)`\), INSERT, UPDATE ON `app`.`t` TO `tab`@`%` WITH GRANT OPTION$/),
      expect.stringMatching(/^GRANT USAGE ON \*\.\* TO `tab`@`%` IDENTIFIED BY PASSWORD '\*[0-9A-F]{40}'$/),
    ])
    expect(await replicaGrants("'boss'@'%'")).toEqual([expect.stringMatching(/^GRANT SELECT, PROCESS ON \*\.\* TO `boss`@`%` IDENTIFIED BY PASSWORD '.*' WITH GRANT OPTION$/)])
    expect(await replicaGrants("'reader'")).toContain('GRANT `base_role` TO `reader`')
    expect(await replicaGrants("'ed'@'%'")).toContain('SET DEFAULT ROLE `reader` FOR `ed`@`%`')
    expect(await replicaGrants(hostile)).toContain(`GRANT SELECT ON \`we'ird\`.* TO \`${HOSTILE_USER.replaceAll('`', '``')}\`@\`${HOSTILE_HOST}\``)
    expect(await replicaGrants("'other'@'%'")).toEqual([expect.stringMatching(/^GRANT INSERT ON `app`.\* TO `other`@`%`$/), expect.stringMatching(/^GRANT USAGE/)])

    // The hashes arrived: each account logs in to the replica with its source password.
    for (const [user, host, password] of [
      ['tab', '%', PASSWORDS.tab],
      ['ed', '%', PASSWORDS.ed],
      [HOSTILE_USER, HOSTILE_HOST, PASSWORDS.hostile],
    ] as const) {
      if (host !== '%') await e.sandbox.replica.server.execute([`RENAME USER ${hostile} TO '${HOSTILE_USER.replaceAll("'", "''")}'@'127.0.0.1'`])
      const conn = await mariadb.createConnection({host: '127.0.0.1', port: e.sandbox.replica.server.port, user, password, ssl: {rejectUnauthorized: false}})
      const [row] = await conn.query('SELECT CURRENT_ROLE() AS role')
      await conn.end()
      if (user === 'ed') expect(row.role).toBe('reader')
      if (host !== '%') await e.sandbox.replica.server.execute([`RENAME USER '${HOSTILE_USER.replaceAll("'", "''")}'@'127.0.0.1' TO ${hostile}`])
    }
    expectNoHashes()
  })

  it('changes nothing the second time (exit 0 for a selection with nothing left out)', async () => {
    const before = await replicaUsers()
    const again = await json<ResultJson>(e, ['accounts', '--users', `'tab'@'%','ed'@'%',${hostile}`])
    expect(again.accounts.map((a) => [a.account, a.action, a.statements])).toEqual(
      expect.arrayContaining([
        ["'tab'@'%'", 'unchanged', []],
        ["'ed'@'%'", 'unchanged', []],
        ["'reader'", 'unchanged', []],
        ["'base_role'", 'unchanged', []],
      ]),
    )
    expect(again.accounts.every((a) => a.action === 'unchanged')).toBe(true)
    // A role by its bare name brings the roles it holds.
    const roles = await json<ResultJson>(e, ['accounts', '--users', 'reader'])
    expect(roles.accounts.map((a) => [a.account, a.role, a.action])).toEqual([
      ["'reader'", true, 'unchanged'],
      ["'base_role'", true, 'unchanged'],
    ])
    const all = await json<ResultJson>(e, ['accounts'], 1)
    expect(all.accounts.filter((a) => a.action !== 'unchanged').map((a) => a.account)).toEqual(["'other'@'%'"])
    expect(all.accounts.filter((a) => a.leftOut.length > 0).map((a) => a.account)).toEqual(["'boss'@'%'", "'miss'@'%'"])
    expect(await replicaUsers()).toEqual(before)
  })

  it('completes an account a stopped run created half-way, but not one made by hand', async () => {
    // What a run killed between CREATE USER and its GRANTs leaves: the account, part of its grants.
    await e.sandbox.replica.server.execute([
      "REVOKE UPDATE ON app.t FROM 'tab'@'%'",
      // root may not REVOKE a role the replica's admin created (it holds no ADMIN OPTION on it).
      "DELETE FROM mysql.roles_mapping WHERE User = 'ed' AND Role = 'reader'",
      'FLUSH PRIVILEGES',
    ])
    const completed = await json<ResultJson>(e, ['accounts', '--users', "'tab'@'%','ed'@'%'"])
    const by = Object.fromEntries(completed.accounts.map((a) => [a.account, a]))
    expect(by["'tab'@'%'"]).toMatchObject({action: 'complete', differences: ['missing on the replica: UPDATE ON `app`.`t`']})
    expect(by["'ed'@'%'"]?.action).toBe('complete')
    expect(await replicaGrants("'tab'@'%'")).toContainEqual(expect.stringMatching(/INSERT, UPDATE ON `app`.`t`/))
    expect(await replicaGrants("'ed'@'%'")).toContain('GRANT `reader` TO `ed`@`%`')
    // 'other' was there before datain: fewer grants than on the source is still "other grants".
    await e.sandbox.replica.server.execute(["REVOKE INSERT ON app.* FROM 'other'@'%'", "SET PASSWORD FOR 'other'@'%' = PASSWORD('OtherPw-5')"])
    const other = await json<ResultJson>(e, ['accounts', '--users', "'other'@'%'"], 1)
    expect(other.accounts).toMatchObject([{action: 'differs', differences: ['missing on the replica: SELECT ON `app`.*']}])
  })

  it('--replace makes the differing account as on the source', async () => {
    await e.sandbox.replica.server.execute([
      "GRANT INSERT ON app.* TO 'other'@'%'",
      "SET PASSWORD FOR 'other'@'%' = PASSWORD('ReplicaOwn-6')",
      // Options only the replica's account has: ALTER USER keeps them unless it names them.
      "ALTER USER 'other'@'%' REQUIRE SSL ACCOUNT LOCK",
    ])
    const replaced = await json<ResultJson>(e, ['accounts', '--users', "'other'@'%'", '--replace'])
    expect(replaced.accounts).toMatchObject([{account: "'other'@'%'", action: 'replace'}])
    expect(await replicaGrants("'other'@'%'")).toEqual([expect.stringMatching(/^GRANT SELECT ON `app`.\* TO `other`@`%`$/), expect.stringMatching(/^GRANT USAGE/)])
    const again = await json<ResultJson>(e, ['accounts', '--users', "'other'@'%'"])
    expect(again.accounts).toMatchObject([{action: 'unchanged'}])
    expectNoHashes()
  })

  it('lists what the replica refuses, account by account (exit 1), and goes on with the others', async () => {
    await e.sandbox.source.server.execute(['CREATE ROLE ops', "GRANT SELECT ON app.* TO ops", "CREATE USER 'opsuser'@'%'", "GRANT ops TO 'opsuser'@'%'"])
    // The same role made on the replica by someone else: its admin holds no ADMIN OPTION on it, so GRANT ops fails.
    await e.sandbox.replica.server.execute(['CREATE ROLE ops', 'GRANT SELECT ON app.* TO ops'])
    const result = await json<ResultJson>(e, ['accounts', '--users', "'opsuser'@'%','tab'@'%'"], 1)
    const by = Object.fromEntries(result.accounts.map((a) => [a.account, a]))
    expect(by["'ops'"]?.action).toBe('unchanged')
    expect(by["'tab'@'%'"]?.action).toBe('unchanged')
    expect(by["'opsuser'@'%'"]).toMatchObject({action: 'failed', statements: ["CREATE USER 'opsuser'@'%'"]})
    expect(by["'opsuser'@'%'"]?.error).toMatch(/^GRANT `ops` TO 'opsuser'@'%': .*\(error 1\d{3}\)$/)
    const human = await e.run(['accounts', '--users', "'opsuser'@'%'"])
    expect(human.exitCode).toBe(1)
    expect(human.stdout).toMatch(/'opsuser'@'%': FAILED\n[\s\S]*refused: GRANT `ops` TO 'opsuser'@'%'/)

    // A kind of grant datain does not copy is listed, never dropped silently.
    await e.sandbox.source.server.execute(["CREATE USER 'prox'@'%'", "GRANT PROXY ON 'tab'@'%' TO 'prox'@'%'"])
    const proxy = await json<ResultJson>(e, ['accounts', '--users', "'prox'@'%'"], 1)
    expect(proxy.accounts).toMatchObject([{action: 'create', leftOut: ["GRANT PROXY ON `tab`@`%` TO `prox`@`%`: datain does not copy this kind of grant; give it by hand"]}])
    expectNoHashes()
  })

  it("says which privilege datain's user lacks when it may list accounts but not read their grants, and changes nothing", async () => {
    const admin = `'${e.sandbox.source.user}'@'%'`
    await e.sandbox.source.server.execute([`REVOKE SELECT ON *.* FROM ${admin}`, `GRANT SELECT ON mysql.user TO ${admin}`])
    try {
      const before = await replicaUsers()
      const refused = await json<ErrorJson>(e, ['accounts'], 1)
      expect(refused.error.code).toBe('E_ACCOUNTS_ACCESS')
      expect(refused.error.message).toMatch(/^datain's user on the source may not read the grants of .*Nothing was changed\.$/)
      expect(await replicaUsers()).toEqual(before)
    } finally {
      await e.sandbox.source.server.execute([`REVOKE SELECT ON mysql.user FROM ${admin}`, `GRANT SELECT ON *.* TO ${admin}`])
    }
  })
})
