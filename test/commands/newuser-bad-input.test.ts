import {chown, mkdir, mkdtemp, readdir, readFile, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {dispose, type Env, expectNoSecrets, newEnv} from '../stop/helpers.js'

/**
 * A new user's mistakes and an attacker's values against the built CLI and a real sandbox: each is
 * one paragraph with exit 2 (or the exit of what really failed), no stack trace, and nothing left
 * on disk by an init that records nothing.
 */

interface ErrorJson {
  error: {code: string; exit: number; message: string; suggestions: string[]}
}

/** Every file and folder under `dir`, relative to it. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, {recursive: true}).catch(() => null)
  return entries === null ? ['(absent)'] : entries.map(String).sort()
}

describe('newcomers\' bad input', () => {
  let e: Env
  let scratch: string
  beforeAll(async () => {
    e = await newEnv()
    scratch = await mkdtemp(path.join(tmpdir(), 'datain-newuser-'))
  })
  afterAll(async () => {
    await dispose(e)
    await rm(scratch, {recursive: true, force: true})
  })

  async function refused(args: string[], env: Record<string, string>, exit: number): Promise<ErrorJson['error']> {
    const result = await e.run([...args, '--json'], env)
    expect(result.exitCode, `${args.join(' ').slice(0, 200)}: ${result.stdout.slice(0, 2000)}${result.stderr.slice(0, 2000)}`).toBe(exit)
    expect(result.stderr).not.toMatch(/\n\s+at /)
    return (JSON.parse(result.stdout) as ErrorJson).error
  }

  it('a failed init leaves no folder behind: not the profile\'s, not DATAIN_HOME, not its parents', {timeout: 120_000}, async () => {
    const home = path.join(scratch, 'fresh', 'nested', 'home')
    const cases: Array<[string[], Record<string, string>, number, RegExp]> = [
      [['init', '--source-port', 'abc'], {}, 2, /--source-port: 'abc' is not a TCP port/],
      [['init', '--source-port', '1'], {}, 4, /Nothing accepts connections at the source/],
      [['init'], {DATAIN_SOURCE_PASSWORD: 'wrong'}, 4, /source/i],
    ]
    for (const [args, env, exit, message] of cases) {
      const error = await refused(args, {DATAIN_HOME: home, ...env}, exit)
      expect(error.message).toMatch(message)
      expect(await tree(path.join(scratch, 'fresh')), args.join(' ')).toEqual(['(absent)'])
    }

    // A home that exists, with another profile in it: it stays as it was, and so does the other profile.
    const used = path.join(scratch, 'used')
    await mkdir(path.join(used, 'profiles', 'other'), {recursive: true, mode: 0o700})
    await refused(['init', '--profile', 'new', '--source-port', '1'], {DATAIN_HOME: used}, 4)
    expect(await tree(used)).toEqual(['profiles', 'profiles/other'])

    // An init that reaches both servers records the profile as before.
    const ok = await e.run(['init'], {DATAIN_HOME: home})
    expect(ok.exitCode, ok.stderr).toBe(0)
    expect((await stat(path.join(home, 'profiles', 'default', 'settings.json'))).isFile()).toBe(true)
    expectNoSecrets(e)
  })

  it('timeouts from the environment beyond what a timer holds are refused (exit 2), not a false timeout at once', {timeout: 120_000}, async () => {
    const home = path.join(scratch, 'timeouts')
    const values: Array<[string, string]> = [
      ['DATAIN_QUERY_TIMEOUT', '1e9'],
      ['DATAIN_QUERY_TIMEOUT', 'abc'],
      ['DATAIN_QUERY_TIMEOUT', '-1'],
      ['DATAIN_ARM_TIMEOUT_MS', '9007199254740991'],
      ['DATAIN_ARM_TIMEOUT_MS', 'abc'],
      ['DATAIN_ARM_TIMEOUT_MS', '1.5'],
    ]
    for (const [name, value] of values) {
      const error = await refused(['init'], {DATAIN_HOME: home, [name]: value}, 2)
      expect(error.code, `${name}=${value}`).toBe('E_BAD_INPUT')
      expect(error.message).toContain(`${name} must be a`)
      expect(error.message).toContain(`'${value}'`)
      expect(error.message).not.toMatch(/no answer|unreachable/i)
      expect(await tree(home)).toEqual(['(absent)'])
    }
    const cutover = await refused(['stop', '--cutover'], {DATAIN_HOME: home, DATAIN_CUTOVER_TIMEOUT: '1e12'}, 2)
    expect(cutover.message).toMatch(/DATAIN_CUTOVER_TIMEOUT must be a number of seconds above 0 and at most 2147483/)

    // The largest accepted values work: init runs its checks to the end.
    const ok = await e.run(['init'], {DATAIN_HOME: home, DATAIN_QUERY_TIMEOUT: '2147483', DATAIN_ARM_TIMEOUT_MS: '2147483647'})
    expect(ok.exitCode, ok.stderr).toBe(0)

    // start refuses before it begins: one JSON object, no step recorded as failed.
    const before = await tree(home)
    const profileDir = path.join(home, 'profiles', 'default')
    const journal = await readFile(path.join(profileDir, 'journal.jsonl'), 'utf8')
    const badEnvs: Array<Record<string, string>> = [{DATAIN_STALL_TIMEOUT: 'abc'}, {DATAIN_QUERY_TIMEOUT: '0'}, {DATAIN_ARM_TIMEOUT_MS: '-5'}]
    for (const env of badEnvs) {
      const start = await e.run(['start', '--json'], {DATAIN_HOME: home, ...env})
      expect(start.exitCode, start.stdout).toBe(2)
      expect(start.stdout.trim().split('\n')).toHaveLength(1)
      expect((JSON.parse(start.stdout) as ErrorJson).error.code).toBe('E_BAD_INPUT')
    }
    expect(await tree(home)).toEqual(before)
    expect(await readFile(path.join(profileDir, 'journal.jsonl'), 'utf8')).toBe(journal)
  })

  it('seconds flags beyond what a timer holds are refused (exit 2) instead of a busy loop or a wait that ends at once', {timeout: 120_000}, async () => {
    const home = path.join(scratch, 'flags')
    expect((await e.run(['init'], {DATAIN_HOME: home})).exitCode).toBe(0)
    for (const args of [
      ['status', '--watch', '--interval', '9999999999'],
      ['stop', '--cutover', '--timeout', '9999999999'],
      ['verify', '--wait-timeout', '9999999999'],
    ]) {
      const result = await e.run(args, {DATAIN_HOME: home})
      expect(result.exitCode, args.join(' ')).toBe(2)
      expect(result.stderr.replace(/\s*\n\s*›\s+/g, ' ')).toMatch(/less than or equal to 2147483/)
      expect(result.stderr).not.toMatch(/TimeoutOverflowWarning/)
      // oclif's own parse error, as one paragraph like datain's (it was three lines, the second indented by a tab).
      const json = await e.run([...args.filter((a) => a !== '--watch'), '--json'], {DATAIN_HOME: home})
      expect(JSON.parse(json.stdout).error.message).toBe(
        `${args.at(-2)}: expected an integer less than or equal to 2147483 but received: 9999999999. See more help with --help`,
      )
    }
  })

  it('a huge or multi-line value is quoted cut and escaped, in one short paragraph', {timeout: 120_000}, async () => {
    const home = path.join(scratch, 'huge')
    // Under Linux's 128 KiB limit for one argument.
    const huge = 'a'.repeat(100_000)
    for (const flag of ['--source-host', '--databases', '--server', '--arm-endpoint']) {
      const value = flag === '--databases' ? `${huge},b` : huge
      const error = await refused(['init', flag, value], {DATAIN_HOME: home}, 2)
      expect(error.message.length, flag).toBeLessThan(600)
      expect(error.message).toMatch(/a…' \(\d+ characters\)/)
    }
    const profile = await refused(['status', '--profile', `../${huge}\n`], {DATAIN_HOME: home}, 2)
    expect(profile.code).toBe('E_PROFILE_NAME')
    expect(profile.message).toMatch(/^'\.\.\/a+…' \(100004 characters\) is not a valid profile name/)
    const recorded = path.join(scratch, 'users')
    expect((await e.run(['init'], {DATAIN_HOME: recorded})).exitCode).toBe(0)
    const users = await refused(['accounts', '--dry-run', '--users', `${huge})`], {DATAIN_HOME: recorded}, 2)
    expect(users.code).toBe('E_USERS_SYNTAX')
    expect(users.message.length).toBeLessThan(600)
    expect(users.message).toMatch(/a…" \(100001 characters\)/)
    const broken = await refused(['init', '--source-host', 'db1\nFAKE: all good\u001b[2J'], {DATAIN_HOME: home}, 2)
    expect(broken.message).toContain(String.raw`'db1\nFAKE: all good\x1b[2J' is not a host name`)
    expect(broken.message).not.toContain('\n')
    expect(broken.message).not.toContain('\u001b')
    expect(await tree(home)).toEqual(['(absent)'])
  })
})

describe('a DATAIN_HOME that belongs to another user', () => {
  let e: Env
  let home: string
  beforeAll(async () => {
    e = await newEnv()
    home = await mkdtemp(path.join(tmpdir(), 'datain-foreign-'))
  })
  afterAll(async () => {
    await dispose(e)
    await rm(home, {recursive: true, force: true})
  })

  it('is refused by every command (exit 2, E_STATE_NOT_OWN), and nothing in it changes', {timeout: 120_000}, async () => {
    let foreign = home
    if (process.getuid?.() === 0) {
      // As root: a profile recorded here, then the folder handed to 'nobody', who could rewrite its settings.
      expect((await e.run(['init'], {DATAIN_HOME: home})).exitCode).toBe(0)
      await chown(home, 65534, 65534)
    } else {
      // As anyone else: a folder root owns, the one that always exists.
      foreign = '/'
    }
    const before = await tree(foreign === '/' ? home : foreign)
    for (const args of [['init'], ['status'], ['start'], ['stop'], ['verify'], ['skip', '--yes'], ['accounts'], ['profiles']]) {
      const result = await e.run([...args, '--json'], {DATAIN_HOME: foreign})
      expect(result.exitCode, `${args.join(' ')}: ${result.stdout}${result.stderr}`).toBe(2)
      const error = (JSON.parse(result.stdout) as ErrorJson).error
      expect(error.code).toBe('E_STATE_NOT_OWN')
      expect(error.message).toMatch(/belongs to another user \(uid \d+\), not to you/)
    }
    expect(await tree(foreign === '/' ? home : foreign)).toEqual(before)
  })
})
