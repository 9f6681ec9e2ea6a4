import {execa} from 'execa'
import {copyFile, mkdtemp, readdir, rm, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {dispose, type Env, newEnv} from '../stop/helpers.js'

/**
 * The CA file flags given what is not a CA file: a FIFO (which blocked init for good), a device
 * (/dev/zero filled its memory until it aborted), a folder behind a symlink, a file too big. Each
 * is one paragraph with exit 2, quickly, and no profile recorded.
 */

interface ErrorJson {
  error: {code: string; exit: number; message: string}
}

describe('file flags given what is not a file', () => {
  let e: Env
  let dir: string
  beforeAll(async () => {
    e = await newEnv()
    dir = await mkdtemp(path.join(tmpdir(), 'datain-newuser-files-'))
  })
  afterAll(async () => {
    await dispose(e)
    await rm(dir, {recursive: true, force: true})
  })

  it('a FIFO, a device, a symlinked folder, a huge file: exit 2 within seconds, nothing recorded', {timeout: 120_000}, async () => {
    const fifo = path.join(dir, 'ca.fifo')
    await execa('mkfifo', [fifo])
    const folderLink = path.join(dir, 'ca-folder.pem')
    await symlink(dir, folderLink)
    const huge = path.join(dir, 'huge.pem')
    await writeFile(huge, `-----BEGIN CERTIFICATE-----\n${'A'.repeat(5 * 1024 * 1024)}\n`)
    const home = path.join(dir, 'home')
    for (const [flag, file, why] of [
      ['--source-ssl-ca', fifo, /is not a regular file/],
      ['--replica-ssl-ca', fifo, /is not a regular file/],
      ['--source-ssl-ca', '/dev/zero', /is not a regular file/],
      ['--source-ssl-ca', folderLink, /is not a regular file/],
      ['--replica-ssl-ca', huge, /holds \d+ bytes, more than a CA bundle/],
    ] as const) {
      const began = Date.now()
      const result = await execaBounded(e, ['init', flag, file, '--json'], home)
      expect(result.exitCode, `${flag} ${file}: ${result.stdout}${result.stderr}`).toBe(2)
      expect(Date.now() - began).toBeLessThan(20_000)
      const error = (JSON.parse(result.stdout) as ErrorJson).error
      expect(error.code).toBe('E_BAD_INPUT')
      expect(error.message).toMatch(new RegExp(`^${flag}: `))
      expect(error.message).toMatch(why)
      expect(await readdir(home).catch(() => 'absent')).toBe('absent')
    }
  })

  it('a CA file that became a FIFO after init: the next command says so, exit 2 within seconds, instead of blocking', {timeout: 120_000}, async () => {
    const ca = path.join(dir, 'source-ca.pem')
    await copyFile(e.sandbox.source.sslCa, ca)
    const home = path.join(dir, 'home-later')
    const init = await e.run(['init', '--source-ssl-ca', ca], {DATAIN_HOME: home, DATAIN_SOURCE_SSL_CA: ''})
    expect(init.exitCode, init.stdout + init.stderr).toBe(0)
    await rm(ca)
    await execa('mkfifo', [ca])
    for (const command of [['status', '--json'], ['start', '--json']]) {
      const began = Date.now()
      const result = await execaBounded(e, command, home)
      expect(result.exitCode, `${command.join(' ')}: ${result.stdout}${result.stderr}`).toBe(2)
      expect(Date.now() - began).toBeLessThan(20_000)
      expect(result.stdout).toContain('is not a regular file')
    }
  })
})

/** The CLI with a bound: a FIFO blocked it for good before the fix, which must fail the test, not hang it. */
async function execaBounded(e: Env, args: string[], home: string): Promise<{exitCode: number; stdout: string; stderr: string}> {
  const bounded = await Promise.race([
    e.run(args, {DATAIN_HOME: home}),
    new Promise<undefined>((resolve) => setTimeout(resolve, 30_000, undefined)),
  ])
  return bounded ?? {exitCode: -1, stdout: '{}', stderr: 'no answer within 30 s'}
}
