import {readFileSync} from 'node:fs'
import {mkdtemp, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import mariadb from 'mariadb'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {type Sandbox, SOURCE_ADMIN, startSandbox} from '../../sandbox/sandbox.js'
import {DatainError} from '../../src/lib/errors.js'
import {connectTo} from '../../src/lib/mariadb.js'
import {GENERATED_PASSWORD_LENGTH, generatePassword, nativePasswordHash, passwordFingerprint, REPLICATION_PASSWORD_ENV} from '../../src/state/passwords.js'
import {giveAccountPassword} from '../../src/steps/replication-password.js'
import {checkedUserName, replicationUserStep} from '../../src/steps/replication-user.js'
import {parseAccount} from '../../src/steps/replication-user-account.js'
import {beginStep, profileFilesText, runStep, stepContextFor, type StepContextOptions, type TestStepContext} from '../helpers/step-context.js'

let sandbox: Sandbox
let home: string
const contexts: TestStepContext[] = []
const users = new Set<string>()
const cleanups: Array<() => Promise<unknown>> = []

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
})

afterAll(async () => {
  await sandbox?.stop()
})

beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'datain-repl-user-'))
})

afterEach(async () => {
  for (const ctx of contexts.splice(0)) await ctx.close()
  while (cleanups.length > 0) await cleanups.pop()!()
  for (const user of users) await root('DROP USER IF EXISTS ?@?', [user, '%'])
  users.clear()
  await rm(home, {recursive: true, force: true})
})

const root = <T = unknown>(sql: string, values?: unknown[]) => sandbox.source.server.query<T>(sql, values)

/** A context on this test's home; the user it names is dropped after the test. */
async function context(options: Partial<StepContextOptions> & {user?: string} = {}): Promise<TestStepContext> {
  const user = options.user ?? 'datain_repl'
  users.add(user)
  const ctx = await stepContextFor(sandbox, {home, ...options, settings: {replicationUser: user, ...options.settings}})
  contexts.push(ctx)
  return ctx
}

/** Closes a context, as a datain process ends, so that the next run can take the profile's lock. */
async function end(ctx: TestStepContext): Promise<void> {
  contexts.splice(contexts.indexOf(ctx), 1)
  await ctx.close()
}

async function grants(user: string): Promise<string[]> {
  const rows = await root<Array<Record<string, string>>>('SHOW GRANTS FOR ?@?', [user, '%'])
  return rows.map((row) => Object.values(row)[0]!)
}

async function createUserText(user: string): Promise<string> {
  const [row] = await root<Array<Record<string, string>>>('SHOW CREATE USER ?@?', [user, '%'])
  return Object.values(row!)[0]!
}

/** Logs in to the source as `user` through a real connection: CURRENT_USER() on success. */
async function login(user: string, password: string, tls = true): Promise<string> {
  const conn = await mariadb.createConnection({
    host: sandbox.source.host,
    port: sandbox.source.port,
    user,
    password,
    ssl: tls ? {ca: readFileSync(sandbox.source.sslCa, 'utf8')} : undefined,
    connectTimeout: 5000,
  })
  try {
    const [row] = (await conn.query('SELECT CURRENT_USER() AS u')) as Array<{u: string}>
    return row!.u
  } finally {
    await conn.end()
  }
}

async function storedPassword(ctx: TestStepContext): Promise<string> {
  return (await ctx.store.readSecrets())!.replicationPassword
}

async function binlogPosition(): Promise<{file: string; position: number}> {
  const [row] = await root<Array<{File: string; Position: number | bigint}>>('SHOW MASTER STATUS')
  return {file: row!.File, position: Number(row!.Position)}
}

/** The binary log's events since `from`, as SHOW BINLOG EVENTS writes them. */
async function binlogSince(from: {file: string; position: number}): Promise<string[]> {
  const rows = await root<Array<{Info: string}>>(`SHOW BINLOG EVENTS IN '${from.file}' FROM ${from.position}`)
  return rows.map((r) => r.Info)
}

async function failure(promise: Promise<unknown>): Promise<DatainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DatainError)
  return error as DatainError
}

/** Every form a secret could take in a file: itself, SQL- and JSON-escaped. */
function expectNowhere(files: Record<string, string>, secret: string): void {
  const forms = [secret, secret.replaceAll('\\', '\\\\').replaceAll("'", "\\'"), JSON.stringify(secret).slice(1, -1)]
  for (const [name, text] of Object.entries(files)) {
    for (const form of forms) expect(text.includes(form), `${name} holds the password`).toBe(false)
  }
}

describe('the replication-user step', () => {
  it('creates the user with REPLICATION SLAVE only and REQUIRE SSL, a generated password kept 0600, and nothing secret elsewhere', async () => {
    const ctx = await context()
    const before = await binlogPosition()
    const output = await runStep(ctx, replicationUserStep)
    expect(output).toEqual({user: 'datain_repl', host: '%', created: true, requireSsl: true, action: 'created'})

    const password = await storedPassword(ctx)
    expect(password).toHaveLength(GENERATED_PASSWORD_LENGTH)
    expect(await grants('datain_repl')).toEqual([
      `GRANT REPLICATION SLAVE ON *.* TO \`datain_repl\`@\`%\` IDENTIFIED BY PASSWORD '${nativePasswordHash(password)}' REQUIRE SSL`,
    ])
    expect(await login('datain_repl', password)).toBe('datain_repl@%')
    await expect(login('datain_repl', password, false)).rejects.toMatchObject({errno: 1045})

    expect((await stat(path.join(ctx.store.dir, 'secrets.json'))).mode & 0o777).toBe(0o600)
    const files = await profileFilesText(ctx.store)
    expect(Object.keys(files)).toEqual(expect.arrayContaining(['checkpoint.json', 'journal.jsonl', 'settings.json']))
    expectNowhere(files, password)
    expect(ctx.lines.join('\n')).not.toContain(password)
    // The account was created from the password's hash: the password itself is not in the source's binary log.
    const events = await binlogSince(before)
    expect(events.some((e) => e.includes('CREATE USER'))).toBe(true)
    expect(events.join('\n')).not.toContain(password)
  })

  it('run twice (and by a second process) keeps one account, reuses the stored password and changes nothing', async () => {
    let ctx = await context()
    await runStep(ctx, replicationUserStep)
    const password = await storedPassword(ctx)
    const account = await createUserText('datain_repl')
    const position = await binlogPosition()

    expect(await runStep(ctx, replicationUserStep)).toMatchObject({action: 'unchanged'})
    await end(ctx)
    ctx = await context()
    expect(await runStep(ctx, replicationUserStep)).toMatchObject({action: 'unchanged', created: true})

    expect(await storedPassword(ctx)).toBe(password)
    expect(await createUserText('datain_repl')).toBe(account)
    expect(await binlogSince(position)).toEqual(expect.not.arrayContaining([expect.stringMatching(/USER|GRANT|REVOKE/)]))
    const rows = await root<unknown[]>("SELECT Host FROM mysql.user WHERE User = 'datain_repl'")
    expect(rows).toHaveLength(1)
    expect(await login('datain_repl', password)).toBe('datain_repl@%')
  })

  it('refuses an account of that name that datain did not create, and leaves it untouched', async () => {
    await root("CREATE USER 'datain_repl'@'%' IDENTIFIED BY 'Their-Own-9'")
    await root("GRANT SELECT ON *.* TO 'datain_repl'@'%'")
    const account = await createUserText('datain_repl')
    const before = await grants('datain_repl')

    const ctx = await context({profile: 'foreign'})
    const error = await failure(runStep(ctx, replicationUserStep))
    expect(error.code).toBe('E_REPLICATION_USER_EXISTS')
    expect(error.oclif.exit).toBe(1)
    expect(error.message).toContain("'datain_repl'@'%' already exists on the source, and datain did not create it")
    expect(error.message).toContain("DROP USER 'datain_repl'@'%';")
    expect(error.message).toContain('--replication-user')

    expect(await createUserText('datain_repl')).toBe(account)
    expect(await grants('datain_repl')).toEqual(before)
    expect(await login('datain_repl', 'Their-Own-9', false)).toBe('datain_repl@%')
    const record = (await ctx.store.readCheckpoint()).steps['replication-user']
    expect(record?.state).toBe('failed')
    expect(record?.output?.created).toBeUndefined()
    // No password was generated for an account datain did not touch.
    expect(await ctx.store.readSecrets()).toBeUndefined()
  })

  it("repairs datain's own account left by an interrupted run (the progress marker): password, REQUIRE SSL, lock, extra privileges, a role", async () => {
    // What a run killed right after CREATE USER leaves, then damaged by hand.
    await root("CREATE USER 'datain_repl'@'%' IDENTIFIED BY 'Not-The-Password-1'")
    await root("GRANT SELECT, RELOAD ON *.* TO 'datain_repl'@'%' WITH GRANT OPTION")
    await root("GRANT INSERT ON mysql.* TO 'datain_repl'@'%'")
    await root("CREATE ROLE IF NOT EXISTS `datain's role`")
    cleanups.push(() => root('DROP ROLE IF EXISTS `datain\'s role`'))
    await root("GRANT `datain's role` TO 'datain_repl'@'%'")
    await root("ALTER USER 'datain_repl'@'%' ACCOUNT LOCK")

    const ctx = await context({profile: 'resumed'})
    const marker = {state: 'running' as const, startedAt: new Date().toISOString(), output: {creating: true, user: 'datain_repl'}}
    const output = await runStep(ctx, replicationUserStep, marker)
    expect(output).toMatchObject({action: 'repaired', created: true, requireSsl: true})

    const password = await storedPassword(ctx)
    expect(await grants('datain_repl')).toEqual([
      `GRANT REPLICATION SLAVE ON *.* TO \`datain_repl\`@\`%\` IDENTIFIED BY PASSWORD '${nativePasswordHash(password)}' REQUIRE SSL`,
    ])
    expect(await createUserText('datain_repl')).not.toMatch(/ACCOUNT LOCK/)
    expect(await login('datain_repl', password)).toBe('datain_repl@%')
    expect(ctx.lines.join('\n')).toMatch(/Repaired 'datain_repl'@'%'/)
    // The journal says what was done, with the password masked.
    const journal = await ctx.store.readJournal()
    const entry = journal.find((e) => e.event === 'replication-user') as {statements?: string[]} | undefined
    expect(entry?.statements?.join('\n')).toContain("IDENTIFIED BY PASSWORD '***'")
    expectNowhere(await profileFilesText(ctx.store), password)

    // Repaired once: a second run changes nothing.
    expect(await runStep(ctx, replicationUserStep)).toMatchObject({action: 'unchanged'})
  })

  it('names the statement to run as an administrator where the source user may not repair (PROXY, default role)', async () => {
    let ctx = await context({profile: 'proxy'})
    await runStep(ctx, replicationUserStep)
    await root("CREATE ROLE IF NOT EXISTS `datain's role`")
    cleanups.push(() => root('DROP ROLE IF EXISTS `datain\'s role`'))
    await root("GRANT `datain's role` TO 'datain_repl'@'%'")
    await root("SET DEFAULT ROLE `datain's role` FOR 'datain_repl'@'%'")
    await root("GRANT PROXY ON ''@'%' TO 'datain_repl'@'%'")

    let error = await failure(runStep(ctx, replicationUserStep))
    expect(error.code).toBe('E_REPLICATION_USER')
    expect(error.message).toContain("Run it as an administrator (SET DEFAULT ROLE NONE FOR 'datain_repl'@'%';)")
    // What could be repaired was: the role is gone, REPLICATION SLAVE is there.
    expect((await grants('datain_repl')).join('\n')).not.toMatch(/GRANT `datain's role`/)
    await root("SET DEFAULT ROLE NONE FOR 'datain_repl'@'%'")

    error = await failure(runStep(ctx, replicationUserStep))
    expect(error.message).toContain("Run it as an administrator (REVOKE PROXY ON ``@`%` FROM 'datain_repl'@'%';)")
    await root("REVOKE PROXY ON ''@'%' FROM 'datain_repl'@'%'")
    await end(ctx)

    ctx = await context({profile: 'proxy'})
    expect(await runStep(ctx, replicationUserStep)).toMatchObject({action: 'unchanged'})
    expect(await grants('datain_repl')).toEqual([expect.stringMatching(/^GRANT REPLICATION SLAVE ON \*\.\* TO `datain_repl`@`%` IDENTIFIED BY PASSWORD '\*[0-9A-F]{40}' REQUIRE SSL$/)])
  })

  it('a CREATE USER the source refused clears the marker: an account someone creates afterwards is theirs, never taken over', async () => {
    const admin = `'${SOURCE_ADMIN}'@'%'`
    await root(`REVOKE CREATE USER ON *.* FROM ${admin}`)
    cleanups.push(() => root(`GRANT CREATE USER ON *.* TO ${admin}`))
    let ctx = await context({profile: 'marker'})
    const error = await failure(runStep(ctx, replicationUserStep))
    expect(error.code).toBe('E_REPLICATION_USER')
    expect(error.message).toMatch(/error 1227/)
    expect(error.message).toContain("CREATE USER 'datain_repl'@'%' IDENTIFIED BY PASSWORD '***' REQUIRE SSL")
    expect(error.message).toContain('needs CREATE USER')
    const record = (await ctx.store.readCheckpoint()).steps['replication-user']
    expect(record).toMatchObject({state: 'failed', output: {creating: false, user: 'datain_repl'}})
    const password = await storedPassword(ctx)
    expect(error.message).not.toContain(password)
    await end(ctx)

    await root(`GRANT CREATE USER ON *.* TO ${admin}`)
    await root("CREATE USER 'datain_repl'@'%' IDENTIFIED BY 'The-DBAs-own-1'")
    ctx = await context({profile: 'marker'})
    expect((await failure(runStep(ctx, replicationUserStep))).code).toBe('E_REPLICATION_USER_EXISTS')
    expect(await login('datain_repl', 'The-DBAs-own-1', false)).toBe('datain_repl@%')
  })

  it('a run killed right after CREATE USER: the account is datain\'s when it has the hash the marker fingerprinted, not otherwise', async () => {
    let ctx = await context({profile: 'killed'})
    await runStep(ctx, replicationUserStep)
    const password = await storedPassword(ctx)
    await end(ctx)
    // What the run recorded before CREATE USER, had it died right after it.
    const marker = {state: 'running' as const, startedAt: new Date().toISOString(), output: {creating: true, user: 'datain_repl', accountHash: passwordFingerprint(nativePasswordHash(password))}}
    ctx = await context({profile: 'killed', freshCheckpoint: true})
    expect(await runStep(ctx, replicationUserStep, marker)).toMatchObject({action: 'unchanged', created: true})
    await end(ctx)

    // Same marker, but the account is someone else's (another password): refused, untouched.
    await root("ALTER USER 'datain_repl'@'%' IDENTIFIED BY 'The-DBAs-own-1'")
    ctx = await context({profile: 'killed', freshCheckpoint: true})
    expect((await failure(runStep(ctx, replicationUserStep, marker))).code).toBe('E_REPLICATION_USER_EXISTS')
    expect(await login('datain_repl', 'The-DBAs-own-1')).toBe('datain_repl@%')
  })

  it('before a link with another password: gives the account that one by its hash (IF EXISTS, for the replica), records it; refuses where the source may not', async () => {
    const ctx = await context({profile: 'drift'})
    await runStep(ctx, replicationUserStep)
    const generated = await storedPassword(ctx)
    const chosen = 'Chosen-by-the-DBA-42'
    const from = await binlogPosition()
    await giveAccountPassword(ctx, chosen)
    expect(await login('datain_repl', chosen)).toBe('datain_repl@%')
    const logged = (await binlogSince(from)).join('\n')
    expect(logged).toMatch(/ALTER USER IF EXISTS 'datain_repl'@'%' IDENTIFIED BY PASSWORD '\*[0-9A-F]{40}'/)
    expect(logged).not.toContain(chosen)
    expect(ctx.lines.join('\n')).toMatch(/was given another password \(from the profile \(generated\), at [^)]+\) than the one this run links with \(from DATAIN_REPLICATION_PASSWORD\)/)
    const record = (await ctx.store.readCheckpoint()).steps['replication-password']
    expect(record).toMatchObject({state: 'done', output: {origin: 'DATAIN_REPLICATION_PASSWORD'}})
    expectNowhere(await profileFilesText(ctx.store), chosen)

    // A password policy the generated password does not meet: the source refuses the hash (1290) and the password (1819).
    await root("INSTALL SONAME 'simple_password_check'")
    cleanups.push(() => root("UNINSTALL SONAME 'simple_password_check'"))
    await root('SET GLOBAL simple_password_check_minimal_length = 200')
    const error = await failure(giveAccountPassword(ctx, generated))
    expect(error.code).toBe('E_REPLICATION_PASSWORD_DRIFT')
    expect(error.message).toMatch(/was given another password \(from DATAIN_REPLICATION_PASSWORD, at [^)]+\) than the one this run would link with \(from the profile \(generated\)\)/)
    expect(error.message).toMatch(/error 1819/)
    expect(error.message).toMatch(/Nothing was linked: a link with a password the account does not have fails with error 1045\. Either set DATAIN_REPLICATION_PASSWORD to the password the account has/)
    expect(error.message).not.toContain(generated)
    expect(await login('datain_repl', chosen)).toBe('datain_repl@%')
  })

  it('handles hostile user names and passwords (quotes, backslashes, $, backticks, unicode) through bound parameters', async () => {
    const user = `d'q"b\\s$x\`é日本 ü`
    const password = `p'w"\\$ \`é😀x!%_; #--`
    const ctx = await context({user, profile: 'hostile', env: {[REPLICATION_PASSWORD_ENV]: password}})
    const output = await runStep(ctx, replicationUserStep)
    expect(output).toMatchObject({user, created: true, action: 'created'})
    expect(await login(user, password)).toBe(`${user}@%`)
    const lines = await grants(user)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^GRANT REPLICATION SLAVE ON \*\.\* TO .* REQUIRE SSL$/)
    // An environment password is never stored.
    expect(await ctx.store.readSecrets()).toBeUndefined()
    expectNowhere(await profileFilesText(ctx.store, []), password)
    expect(await runStep(ctx, replicationUserStep)).toMatchObject({action: 'unchanged'})

    const plan = await replicationUserStep.plan(ctx)
    expect(plan.map((a) => a.text).join('\n')).not.toContain(password)
  })

  it('DATAIN_REPLICATION_PASSWORD wins over the stored password, and a change of it is applied', async () => {
    let ctx = await context({profile: 'env'})
    await runStep(ctx, replicationUserStep)
    const generated = await storedPassword(ctx)
    await end(ctx)

    const chosen = 'Chosen-by-the-DBA-42'
    ctx = await context({profile: 'env', env: {[REPLICATION_PASSWORD_ENV]: chosen}})
    expect(await runStep(ctx, replicationUserStep)).toMatchObject({action: 'repaired'})
    expect(await login('datain_repl', chosen)).toBe('datain_repl@%')
    await expect(login('datain_repl', generated)).rejects.toMatchObject({errno: 1045})
    expect(await storedPassword(ctx)).toBe(generated)
  })

  it('with --source-ssl off: no REQUIRE SSL, and an earlier REQUIRE SSL is taken off', async () => {
    let ctx = await context({profile: 'tls'})
    await runStep(ctx, replicationUserStep)
    await end(ctx)
    ctx = await context({profile: 'tls', settings: {source: {ssl: 'off', sslCa: undefined}}})
    expect(await runStep(ctx, replicationUserStep)).toMatchObject({action: 'repaired', requireSsl: false})
    const [line] = await grants('datain_repl')
    expect(line).not.toMatch(/REQUIRE/)
    expect(await login('datain_repl', await storedPassword(ctx), false)).toBe('datain_repl@%')
  })

  it('with TLS to the source and no --source-ssl-ca (the system\'s CAs): REQUIRE SSL all the same', async () => {
    const ctx = await context({settings: {source: {ssl: 'on', sslCa: undefined}}})
    expect(ctx.sourceAddress.tls).toEqual({ca: undefined, verify: true})
    // This process's CA store lacks the sandbox's source CA, which a user's system store would hold.
    const trusted = {...ctx.sourceAddress, tls: {ca: readFileSync(sandbox.source.sslCa, 'utf8'), verify: true}}
    ctx.source = async () => {
      const conn = await connectTo('source', trusted)
      cleanups.push(() => conn.end())
      return conn
    }
    expect(await runStep(ctx, replicationUserStep)).toMatchObject({requireSsl: true})
    expect((await grants('datain_repl'))[0]).toMatch(/ REQUIRE SSL$/)
  })

  it('works where the source validates passwords and refuses hashes (simple_password_check, strict_password_validation)', async () => {
    await root("INSTALL SONAME 'simple_password_check'")
    cleanups.push(() => root("UNINSTALL SONAME 'simple_password_check'"))
    const ctx = await context({profile: 'validated'})
    expect(await runStep(ctx, replicationUserStep)).toMatchObject({action: 'created'})
    expect(ctx.lines.join('\n')).toMatch(/validates passwords/)
    expect(await login('datain_repl', await storedPassword(ctx))).toBe('datain_repl@%')
  })

  it('refuses a user name MariaDB would store as another before touching the source', async () => {
    const ctx = await context({user: 'repl😀', profile: 'emoji'})
    const error = await failure(runStep(ctx, replicationUserStep))
    expect(error.code).toBe('E_REPLICATION_USER_NAME')
    expect(error.oclif.exit).toBe(2)
    expect(() => checkedUserName('repl ')).toThrow(/space/)
    expect(checkedUserName("o'k é")).toBe("o'k é")
  })

  it('plans the statements with the password masked, and nothing for an account already right', async () => {
    const ctx = await context({profile: 'plan'})
    const fresh = await replicationUserStep.plan(ctx)
    expect(fresh.filter((a) => a.kind === 'sql').map((a) => a.text)).toEqual([
      "CREATE USER 'datain_repl'@'%' IDENTIFIED BY PASSWORD '***' REQUIRE SSL",
      "GRANT REPLICATION SLAVE ON *.* TO 'datain_repl'@'%'",
    ])
    // The dry run generated no password.
    expect(await ctx.store.readSecrets()).toBeUndefined()
    await runStep(ctx, replicationUserStep)
    await beginStep(ctx, 'replication-user')
    const again = await replicationUserStep.plan(ctx)
    expect(again.filter((a) => a.kind === 'sql')).toEqual([])
    expect(again.map((a) => a.text).join('\n')).toMatch(/nothing to change/)
  })
})

describe('passwords and account parsing', () => {
  it('generates strong passwords that survive option files and SQL', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 500; i++) {
      const p = generatePassword()
      expect(p).toMatch(/^[A-Za-z][A-Za-z0-9._+-]{31}$/)
      expect(p).toMatch(/[a-z]/)
      expect(p).toMatch(/[A-Z]/)
      expect(p).toMatch(/[0-9]/)
      expect(p).toMatch(/[._+-]/)
      seen.add(p)
    }
    expect(seen.size).toBe(500)
  })

  it("computes mysql_native_password's hash as the server does, unicode included", async () => {
    for (const password of ['secret', `p'w"\\$ é😀`]) {
      const [row] = await root<Array<{h: string}>>('SELECT PASSWORD(?) AS h', [password])
      expect(nativePasswordHash(password)).toBe(row!.h)
    }
  })

  it("reads 10.2's single-quoted SHOW CREATE USER and the clauses that matter", () => {
    const state = parseAccount(
      "CREATE USER 'a REQUIRE X509 '@'%' IDENTIFIED BY PASSWORD '*0123456789ABCDEF0123456789ABCDEF01234567' REQUIRE SSL ACCOUNT LOCK",
      ["GRANT REPLICATION SLAVE, SELECT ON *.* TO 'a REQUIRE X509 '@'%' WITH GRANT OPTION", "GRANT SELECT ON `db`.* TO 'a'@'%'"],
    )
    expect(state).toMatchObject({passwordHash: '*0123456789ABCDEF0123456789ABCDEF01234567', require: 'SSL', locked: true, grantOption: true, objectGrants: 1})
    expect([...state.globalPrivileges].sort()).toEqual(['REPLICATION SLAVE', 'SELECT'])
  })
})
