import {execFile} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {Readable} from 'node:stream'
import {promisify} from 'node:util'
import mariadb from 'mariadb'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {checkWorkaround, installCopyWorkarounds, installedVersion} from '../../src/lib/runtime-workarounds.js'
import {allowLoopback} from '../helpers/preflight.js'

/**
 * Each runtime workaround's upstream behaviour, reproduced on the version datain pins, then gone
 * with the workaround installed. When an upgrade fixes the behaviour, the "reproduces" half fails:
 * then the workaround is no longer needed and goes (src/lib/runtime-workarounds.ts).
 */

const root = new URL('../..', import.meta.url).pathname
const run = promisify(execFile)

/** `node [args] -e script` in the repository, with `env` added; its exit code and output. */
async function node(args: string[], script: string, env: Record<string, string> = {}) {
  try {
    const {stdout, stderr} = await run(process.execPath, [...args, '--input-type=module', '-e', script], {cwd: root, env: {...process.env, ...env}, timeout: 30_000})
    return {code: 0, stdout, stderr}
  } catch (error) {
    const e = error as {code?: number; stdout?: string; stderr?: string}
    return {code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? ''}
  }
}

let sandbox: Sandbox

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  allowLoopback(sandbox)
  await sandbox.replica.server.execute(['CREATE DATABASE wa_db', 'CREATE TABLE wa_db.t (id INT NOT NULL PRIMARY KEY, v VARCHAR(200) NOT NULL)'])
})

afterAll(async () => {
  await sandbox?.stop()
})

describe('the runtime workarounds', () => {
  it('each applies only to the version it was written for, and says why not otherwise', () => {
    expect(installedVersion('mariadb')).toBe('3.5.4')
    expect(checkWorkaround({name: 'x', dependency: {name: 'mariadb', version: '3.5.4'}})).toEqual({name: 'x', applied: true})
    const other = checkWorkaround({name: 'x', dependency: {name: 'mariadb', version: '3.5.3'}})
    expect(other.applied).toBe(false)
    expect(other.why).toMatch(/written for mariadb 3\.5\.3, found 3\.5\.4/)
    expect(checkWorkaround({name: 'y', dependency: {name: 'no-such-package', version: '1.0.0'}}).why).toMatch(/found none/)
  })

  it('mariadb 3.5.4 allocates 16 MiB after every LOAD DATA LOCAL; not with the workaround', async () => {
    const conn = await mariadb.createConnection({
      host: sandbox.replica.host,
      port: sandbox.replica.port,
      user: sandbox.replica.user,
      password: sandbox.replica.password,
      ssl: {ca: readFileSync(sandbox.replica.sslCa, 'utf8')},
      permitLocalInfile: true,
    })
    const largest = async (from: number) => {
      const sizes: number[] = []
      const allocUnsafe = Buffer.allocUnsafe
      const spy = vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((size: number) => {
        sizes.push(size)
        return allocUnsafe(size)
      })
      try {
        for (let i = from; i < from + 5; i++) {
          const rows = Buffer.from(`${i}\t${'v'.repeat(150)}\n`)
          await conn.query({sql: "LOAD DATA LOCAL INFILE 'rows' INTO TABLE wa_db.t", infileStreamFactory: () => Readable.from([rows])})
        }
      } finally {
        spy.mockRestore()
      }
      return Math.max(...sizes)
    }
    try {
      // The upstream bug: fails once the connector sizes that buffer by what is left to send.
      expect(await largest(0)).toBeGreaterThanOrEqual(16 * 1024 * 1024)
      expect((await installCopyWorkarounds()).every((r) => r.applied)).toBe(true)
      expect(await largest(100)).toBeLessThanOrEqual(1024 * 1024)
    } finally {
      await conn.end()
    }
  })

  it('mariadb 3.5.4 leaves the KILL of destroy() unhandled when the thread is gone; not with the workaround', async () => {
    // A statement in flight, a thread id the server does not know (as after a restart), destroy().
    const script = (install: string) => `
      import mariadb from 'mariadb'
      ${install}
      const conn = await mariadb.createConnection({host: '127.0.0.1', port: Number(process.env.WA_PORT), user: process.env.WA_USER,
        password: process.env.WA_PASSWORD, ssl: {ca: process.env.WA_CA}})
      conn.on('error', () => {})
      conn.query('SELECT SLEEP(3)').catch(() => {})
      conn.info.threadId = 4000000000
      conn.destroy()
      await new Promise((resolve) => setTimeout(resolve, 2000))
      console.log('survived')`
    const env = {WA_PORT: String(sandbox.source.port), WA_USER: sandbox.source.user, WA_PASSWORD: sandbox.source.password, WA_CA: readFileSync(sandbox.source.sslCa, 'utf8')}
    const bare = await node([], script(''), env)
    // The upstream bug: fails once the connector handles its KILL's failure.
    expect(bare.code, bare.stderr).not.toBe(0)
    expect(bare.stderr).toMatch(/Unknown thread id/)
    const fixed = await node(['--import', 'tsx'], script(`import {installCopyWorkarounds} from './src/lib/runtime-workarounds.ts'\nawait installCopyWorkarounds()`), env)
    expect(fixed.stderr).toBe('')
    expect(fixed.stdout.trim()).toBe('survived')
  }, 180_000)

  it('mariadb 3.5.4 leaves the failure of destroy()\'s KILL connection unhandled; not with the workaround', async () => {
    const env = {WA_PORT: String(sandbox.source.port), WA_USER: sandbox.source.user, WA_PASSWORD: sandbox.source.password, WA_CA: readFileSync(sandbox.source.sslCa, 'utf8')}
    const connect = `const open = () => mariadb.createConnection({host: '127.0.0.1', port: Number(process.env.WA_PORT), user: process.env.WA_USER,
        password: process.env.WA_PASSWORD, ssl: {ca: process.env.WA_CA}})`
    const install = `import {installCopyWorkarounds} from './src/lib/runtime-workarounds.ts'\nawait installCopyWorkarounds()`
    // destroy()'s KILL connection is the server's next thread: KILL of its own thread fails it (1927),
    // as a server going away fails it.
    const selfKill = (setup: string) => `
      import mariadb from 'mariadb'
      ${setup}
      ${connect}
      const conn = await open()
      conn.on('error', () => {})
      conn.query('SELECT SLEEP(3)').catch(() => {})
      conn.info.threadId = conn.info.threadId + 1
      conn.destroy()
      await new Promise((resolve) => setTimeout(resolve, 2000))
      console.log('survived')`
    // A connection the connector opened with no 'error' listener, its socket closed by the server while idle.
    const closedIdle = (setup: string) => `
      import mariadb from 'mariadb'
      ${setup}
      ${connect}
      const idle = await open()
      const other = await open()
      other.on('error', () => {})
      await other.query('KILL ' + idle.threadId)
      await new Promise((resolve) => setTimeout(resolve, 1000))
      await other.end()
      console.log('survived')`
    for (const script of [selfKill, closedIdle]) {
      const bare = await node([], script(''), env)
      // The upstream bug: fails once the connector handles these itself.
      expect(bare.code, bare.stdout).not.toBe(0)
      expect(bare.stderr).toMatch(/Connection was killed|socket has unexpectedly been closed/)
      const fixed = await node(['--import', 'tsx'], script(install), env)
      expect(fixed.stderr).toBe('')
      expect(fixed.stdout.trim()).toBe('survived')
      expect(fixed.code).toBe(0)
    }
  }, 180_000)

  it('Node 20 grows the young generation to 32 MB when many objects survive; not at all once the workaround is installed', async () => {
    const allocate = `
      import v8 from 'node:v8'
      const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size
      const before = newSpace()
      const keep = []
      for (let i = 0; i < 200000; i++) {
        keep.push({i, s: 'x' + i, a: [i, i + 1]})
        if (keep.length > 20000) keep.shift()
      }
      console.log(JSON.stringify({before, after: newSpace()}))`
    const bare = await node([], allocate)
    // The upstream behaviour: fails once V8 stops growing the semi-spaces for this.
    expect(JSON.parse(bare.stdout).after, bare.stderr).toBeGreaterThan(8 * 1024 * 1024)
    // Through tsx, whose own start-up may have grown them a little already: from the install on, they stay.
    const fixed = JSON.parse((await node(['--import', 'tsx'], `import {installProcessWorkarounds} from './src/lib/runtime-workarounds.ts'\ninstallProcessWorkarounds()\n${allocate}`)).stdout)
    expect(fixed.after).toBe(fixed.before)
  }, 180_000)
})
