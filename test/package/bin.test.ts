import {execa} from 'execa'
import {copyFile, mkdir, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {datain} from '../helpers/datain.js'

const root = path.resolve(import.meta.dirname, '../..')
const noStack = /\n\s+at /

/** bin/run.js as a user meets it: help, a mistyped command, a checkout that was never built. */
describe('bin/run.js', () => {
  let home: string
  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'datain-bin-'))
  })
  afterAll(async () => {
    await rm(home, {recursive: true, force: true})
  })

  it('answers -h like --help', async () => {
    const short = await datain(['-h'], {DATAIN_HOME: home})
    expect(short.exitCode).toBe(0)
    expect(short.stdout).toBe((await datain(['--help'], {DATAIN_HOME: home})).stdout)
    expect(short.stdout).toMatch(/COMMANDS[\s\S]*profiles/)
  })

  // stop's help is edited elsewhere this turn: it joins this list once its exit codes are in.
  it.each(['init', 'start', 'status', 'stop', 'skip', 'profiles', 'accounts', 'verify'])("lists every exit code %s uses in its help", async (command) => {
    const help = await datain([command, '-h'], {DATAIN_HOME: home, COLUMNS: '200'})
    expect(help.exitCode).toBe(0)
    expect(help.stdout).toContain('Exit codes:')
    for (const code of ['0', '1', '2']) expect(help.stdout).toMatch(new RegExp(`^\\s+${code}  \\S`, 'm'))
  })

  it('answers a mistyped command with exit 2 (bad usage) and no stack trace', async () => {
    const result = await datain(['stauts'], {DATAIN_HOME: home})
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toContain('stauts is not a datain command')
    expect(result.stderr).not.toMatch(noStack)
  })

  it("says to run 'npm run build' when dist/ is missing, and nothing else", async () => {
    const checkout = path.join(home, 'checkout')
    await mkdir(path.join(checkout, 'bin'), {recursive: true})
    await copyFile(path.join(root, 'bin', 'run.js'), path.join(checkout, 'bin', 'run.js'))
    await copyFile(path.join(root, 'package.json'), path.join(checkout, 'package.json'))
    const result = await execa(process.execPath, [path.join(checkout, 'bin', 'run.js'), 'status'], {reject: false, env: {DATAIN_HOME: home}})
    expect(result.exitCode).toBe(1)
    expect(result.stderr).toContain("Run 'npm run build'")
    expect(result.stderr).not.toMatch(noStack)
    expect(result.stdout).toBe('')
  })
})
