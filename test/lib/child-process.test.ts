import {execa} from 'execa'
import {readFileSync} from 'node:fs'
import {mkdir, mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {describeClientTool, runClientTool, startClientTool} from '../../src/lib/child-process.js'
import {optionFileValue} from '../../src/lib/client-tool-command.js'
import {DatainError} from '../../src/lib/errors.js'
import type {ServerAddress} from '../../src/lib/mariadb.js'
import {processTag} from '../../src/lib/process-tag.js'
import {allowLoopback} from '../helpers/preflight.js'

let sandbox: Sandbox

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  allowLoopback(sandbox)
})

afterAll(async () => {
  await sandbox?.stop()
})

const sourceAddress = (user = sandbox.source.user, password = sandbox.source.password): ServerAddress => ({
  host: sandbox.source.host,
  port: sandbox.source.port,
  user,
  password,
  tls: {ca: readFileSync(sandbox.source.sslCa, 'utf8'), verify: true},
})

const replicaAddress = (ca = sandbox.replica.sslCa): ServerAddress => ({
  host: sandbox.replica.host,
  port: sandbox.replica.port,
  user: sandbox.replica.user,
  password: sandbox.replica.password,
  tls: {ca: readFileSync(ca, 'utf8'), verify: true},
})

const sql = (address: ServerAddress, statement: string, signal?: AbortSignal) =>
  runClientTool({tool: 'mariadb', role: 'source', address, args: ['--batch', '--skip-column-names', '-e', statement], purpose: 'run a test query', signal})

const sqlString = (value: string) => `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`

/** The argv of a running process, as anyone on the machine can read it. */
async function cmdline(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const optionsFileOf = (argv: string[]) => argv[1]!.replace(/^--defaults-extra-file=/, '')

describe('the client-tool wrapper', () => {
  it('logs in with passwords full of what option files and shells treat specially', async () => {
    const passwords = [
      `it's "quoted" $HOME \\back\\slash\\ # not a comment`,
      ` leading and trailing spaces `,
      `tab\there;semicolon=equals[group]`,
      `Zoë 山田 🎉 ünïcödé`,
      `\\`,
      `ends with a backslash\\`,
      `'`,
      `"#"`,
      `line\nbreak\r`,
    ]
    for (const [i, password] of passwords.entries()) {
      const user = `cp_user_${i}`
      await sandbox.source.server.execute([`CREATE USER '${user}'@'%' IDENTIFIED BY ${sqlString(password)}`])
      const out = await sql(sourceAddress(user, password), 'SELECT CURRENT_USER()')
      expect(out.trim(), JSON.stringify(password)).toBe(`${user}@%`)
    }
    // mariadb-dump reads the same file.
    await sandbox.source.server.execute(['CREATE DATABASE cp_db', 'CREATE TABLE cp_db.t (id INT PRIMARY KEY)', "GRANT SELECT, SHOW VIEW, LOCK TABLES ON cp_db.* TO 'cp_user_0'@'%'"])
    const dump = await runClientTool({
      tool: 'mariadb-dump',
      role: 'source',
      address: sourceAddress('cp_user_0', passwords[0]),
      args: ['--no-data', '--skip-comments', '--databases', 'cp_db'],
      purpose: 'dump a table definition',
    })
    expect(dump).toContain('CREATE TABLE `t`')
  })

  it('keeps all of stdout for a reader that comes late', async () => {
    // execa resumes an unread stdout after a tick under `buffer: false`: the first bytes of a dump would be lost.
    const tool = await startClientTool({
      tool: 'mariadb',
      role: 'source',
      address: sourceAddress(),
      args: ['--batch', '--skip-column-names', '-e', 'SELECT seq FROM mysql.seq_1_to_20000'],
      purpose: 'count',
      stdout: 'pipe',
    })
    await sleep(300)
    const chunks: Buffer[] = []
    for await (const chunk of tool.stdout!) chunks.push(chunk as Buffer)
    await tool.done
    const lines = Buffer.concat(chunks).toString('utf8').trim().split('\n')
    expect(lines).toHaveLength(20_000)
    expect(lines[0]).toBe('1')
  })

  it('writes options the server-side reader undoes exactly', () => {
    expect(optionFileValue(`a'b"c\\d#e$f`)).toBe(`"a\\'b\\"c\\\\d#e$f"`)
    expect(optionFileValue(' x\n\ty\r\b')).toBe('" x\\n\\ty\\r\\b"')
    expect(() => optionFileValue('nul\0')).toThrow(DatainError)
  })

  it('keeps the password out of argv and the environment, in a 0600 file of a 0700 folder that goes when the tool exits', async () => {
    const address = sourceAddress()
    const tool = await startClientTool({tool: 'mariadb', role: 'source', address, args: ['-e', 'SELECT SLEEP(1)'], purpose: 'sleep'})
    const argv = await cmdline(tool.pid)
    expect(argv[1]).toMatch(/^--defaults-extra-file=\//)
    expect(argv.join(' ')).not.toContain(address.password)
    expect(argv.join(' ')).not.toContain(address.password.slice(3))
    const environ = await readFile(`/proc/${tool.pid}/environ`, 'utf8')
    expect(environ).not.toContain(address.password)
    const file = optionsFileOf(argv)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700)
    expect(await readFile(file, 'utf8')).toBe(`[client]\npassword=${optionFileValue(address.password)}\n`)
    expect(argv).toContain('--ssl-verify-server-cert')
    expect(argv.some((a) => a.startsWith('--ssl-ca=') && a.startsWith(`--ssl-ca=${path.dirname(file)}`))).toBe(true)
    await tool.done
    await expect(stat(path.dirname(file))).rejects.toMatchObject({code: 'ENOENT'})
  })

  it('verifies the server certificate against the given CA through the gateway, and refuses another CA', async () => {
    const out = await sql(replicaAddress(), "SELECT CONCAT(CURRENT_USER(), ' ', VARIABLE_VALUE <> '') FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_CIPHER'")
    expect(out.trim()).toBe(`${sandbox.replica.account}@% 1`)

    const wrong = await sql(replicaAddress(sandbox.source.sslCa), 'SELECT 1').catch((error: unknown) => error)
    expect(wrong).toBeInstanceOf(DatainError)
    expect(wrong).toMatchObject({code: 'E_SOURCE_CONNECT', exitCode: 4})
    expect((wrong as Error).message).toMatch(/ERROR 2026|certificate|SSL/i)
    expect((wrong as Error).message).not.toContain(sandbox.replica.password)
  })

  it('fails with the last lines of stderr, and deletes its folder', async () => {
    let folder = ''
    const tool = await startClientTool({
      tool: 'mariadb',
      role: 'source',
      address: sourceAddress(),
      args: ['-e', 'SELECT SLEEP(0.3); SELECT * FROM no_such_db.no_such_table'],
      purpose: 'read a table that is not there',
      errorCode: 'E_TEST',
    })
    folder = path.dirname(optionsFileOf(await cmdline(tool.pid)))
    const error = await tool.done.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DatainError)
    expect(error).toMatchObject({code: 'E_TEST', exitCode: 1})
    expect((error as Error).message).toMatch(/mariadb failed \(exit code 1\) while trying to read a table that is not there/)
    expect((error as Error).message).toContain("ERROR 1146 (42S02) at line 1: Table 'no_such_db.no_such_table' doesn't exist")
    await expect(stat(folder)).rejects.toMatchObject({code: 'ENOENT'})
  })

  it('says so, with exit 4, when the login is refused', async () => {
    const error = await sql(sourceAddress(sandbox.source.user, 'wrong password'), 'SELECT 1').catch((e: unknown) => e)
    expect(error).toMatchObject({code: 'E_SOURCE_CONNECT', exitCode: 4})
    expect((error as Error).message).toContain('ERROR 1045')
  })

  it('kills the child when the signal aborts: E_INTERRUPTED, no process left, no folder left', async () => {
    const controller = new AbortController()
    const tool = await startClientTool({
      tool: 'mariadb',
      role: 'source',
      address: sourceAddress(),
      args: ['-e', 'SELECT SLEEP(30)'],
      purpose: 'sleep',
      signal: controller.signal,
    })
    const folder = path.dirname(optionsFileOf(await cmdline(tool.pid)))
    await sleep(300)
    const started = Date.now()
    controller.abort()
    await expect(tool.done).rejects.toMatchObject({code: 'E_INTERRUPTED'})
    expect(Date.now() - started).toBeLessThan(5000)
    expect(alive(tool.pid)).toBe(false)
    await expect(stat(folder)).rejects.toMatchObject({code: 'ENOENT'})
    // An already aborted signal starts nothing.
    await expect(sql(sourceAddress(), 'SELECT 1', controller.signal)).rejects.toMatchObject({code: 'E_INTERRUPTED'})
  })

  it('stop() ends the child and its folder', async () => {
    const tool = await startClientTool({tool: 'mariadb', role: 'source', address: sourceAddress(), args: ['-e', 'SELECT SLEEP(30)'], purpose: 'sleep'})
    const folder = path.dirname(optionsFileOf(await cmdline(tool.pid)))
    await tool.stop()
    expect(alive(tool.pid)).toBe(false)
    await expect(tool.done).rejects.toMatchObject({code: 'E_CLIENT_STOPPED'})
    await expect(stat(folder)).rejects.toMatchObject({code: 'ENOENT'})
  })

  it('removes the folders a killed datain left behind', async () => {
    const dead = execa('true')
    await dead
    const stale = path.join(tmpdir(), `datain-client-${dead.pid}-left`)
    await mkdir(stale, {mode: 0o700})
    await sql(sourceAddress(), 'SELECT 1')
    await expect(stat(stale)).rejects.toMatchObject({code: 'ENOENT'})
  })

  it('gives a child none of datain\'s secrets: an allow-listed environment', async () => {
    const secrets = {DATAIN_SOURCE_PASSWORD: 'src-secret-1', DATAIN_REPLICA_PASSWORD: 'rep-secret-2', DATAIN_ARM_TOKEN: 'arm-secret-3', SOME_API_KEY: 'key-4'}
    Object.assign(process.env, secrets, {LC_ALL: 'C.UTF-8'})
    try {
      const tool = await startClientTool({tool: 'mariadb', role: 'source', address: sourceAddress(), args: ['-e', 'SELECT SLEEP(30)'], purpose: 'sleep'})
      const environ = (await readFile(`/proc/${tool.pid}/environ`, 'utf8')).split('\0').filter(Boolean)
      await tool.stop()
      const names = environ.map((e) => e.slice(0, e.indexOf('=')))
      // The child's own environment (after exec), not ours: HOME is its private folder.
      expect(environ.find((e) => e.startsWith('HOME='))).toMatch(/datain-client-/)
      expect(names.filter((n) => !['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'].includes(n) && !n.startsWith('LC_'))).toEqual([])
      expect(environ).toContain('LC_ALL=C.UTF-8')
      for (const value of Object.values(secrets)) expect(environ.join('\n')).not.toContain(value)
    } finally {
      for (const name of [...Object.keys(secrets), 'LC_ALL']) delete process.env[name]
    }
  })

  it('runs mariadb with local-infile off: a LOAD DATA LOCAL reads no file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'datain-canary-'))
    const canary = path.join(dir, 'secret.txt')
    await writeFile(canary, 'canary-line\n')
    try {
      await sandbox.source.server.execute([
        'CREATE DATABASE infile_test',
        'CREATE TABLE infile_test.t (line VARCHAR(100))',
        `GRANT ALL ON infile_test.* TO '${sandbox.source.user}'@'%'`,
      ])
      await expect(sql(sourceAddress(), `LOAD DATA LOCAL INFILE ${sqlString(canary)} INTO TABLE infile_test.t`)).rejects.toThrow(DatainError)
      expect(await sql(sourceAddress(), 'SELECT COUNT(*) FROM infile_test.t')).toBe('0\n')
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })

  it('ends a child that makes no progress for its stall bound, naming what it was on', async () => {
    const tool = await startClientTool({
      tool: 'mariadb',
      role: 'source',
      address: sourceAddress(),
      args: ['-e', 'SELECT SLEEP(100)'],
      purpose: 'run a test query',
      stdout: 'pipe',
      stall: {timeoutMs: 1000, on: () => 'the table shop.orders'},
    })
    tool.stdout!.resume()
    const started = Date.now()
    const error = await tool.done.then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(error).toMatchObject({code: 'E_CLIENT_STALLED', message: expect.stringMatching(/mariadb made no progress for 1 s .*\(it was on the table shop\.orders\)/)})
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(alive(tool.pid)).toBe(false)
  })

  it('removes a folder of a dead run whose pid this run has again (a container), and keeps its own', async () => {
    const reused = path.join(tmpdir(), `datain-client-${process.pid}-1-reused`)
    const older = path.join(tmpdir(), `datain-client-${process.pid}-older`)
    const mine = path.join(tmpdir(), `datain-client-${processTag()}-mine`)
    for (const folder of [reused, older, mine]) await mkdir(folder, {mode: 0o700})
    await writeFile(path.join(reused, 'client.cnf'), '[client]\npassword="x"\n', {mode: 0o600})
    try {
      await sql(sourceAddress(), 'SELECT 1')
      await expect(stat(reused)).rejects.toMatchObject({code: 'ENOENT'})
      await expect(stat(older)).rejects.toMatchObject({code: 'ENOENT'})
      expect((await stat(mine)).isDirectory()).toBe(true)
    } finally {
      for (const folder of [reused, older, mine]) await rm(folder, {recursive: true, force: true})
    }
  })

  it('shows the command with the password masked, for --dry-run', () => {
    const text = describeClientTool({tool: 'mariadb-dump', address: sourceAddress(), args: ['--databases', 'shop']})
    expect(text).toMatch(/^mariadb-dump --defaults-extra-file=<private options file: password=\*\*\*> --host=127\.0\.0\.1 --port=\d+ --user=datain_admin --protocol=TCP --ssl --ssl-ca=<CA file> --ssl-verify-server-cert --databases shop$/)
    expect(text).not.toContain(sandbox.source.password)
  })
})
