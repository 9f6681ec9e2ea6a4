import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import net from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {connectTo, sizedDeadlineMs, withDeadline} from '../../src/lib/mariadb.js'
import {datain} from '../helpers/datain.js'
import {startMariaDbProxy} from '../helpers/mariadb-proxy.js'
import {startSilentServer} from '../helpers/silent-mariadb.js'

/**
 * A server that takes the connection and then says nothing (hung, or a network that drops packets
 * without a reset): every wait of datain on it ends, with exit 4 and what to check.
 */

let sandbox: Sandbox
let home: string

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 10})
  home = await mkdtemp(path.join(tmpdir(), 'datain-unresponsive-'))
})

afterAll(async () => {
  await sandbox?.stop()
  if (home) await rm(home, {recursive: true, force: true})
})

describe('a server that stops answering', () => {
  it('a metadata query waits DATAIN_QUERY_TIMEOUT at most, then fails with exit 4', async () => {
    const proxy = await startMariaDbProxy({upstream: {host: sandbox.source.host, port: sandbox.source.port}, rewrite: () => undefined})
    process.env.DATAIN_QUERY_TIMEOUT = '1'
    try {
      const conn = await connectTo('source', {host: proxy.host, port: proxy.port, user: sandbox.source.user, password: sandbox.source.password})
      expect(await conn.query('SELECT 1 AS one')).toEqual([{one: 1}])
      proxy.silence()
      const started = Date.now()
      await expect(conn.query('SHOW MASTER STATUS')).rejects.toMatchObject({
        code: 'E_SOURCE_UNRESPONSIVE',
        exitCode: 4,
        message: expect.stringMatching(/^The source at 127\.0\.0\.1:\d+ accepted datain's connection but gave no answer to a query within 1 s/),
      })
      expect(Date.now() - started).toBeLessThan(5000)
      // Its socket is closed: the connection is of no further use, and datain is free to exit.
      await expect(conn.query('SELECT 1')).rejects.toBeDefined()
      expect(conn.isValid()).toBe(false)
    } finally {
      delete process.env.DATAIN_QUERY_TIMEOUT
      await proxy.close()
    }
  })

  it('a statement that states its own deadline (an index build, CHECKSUM TABLE of a large table) waits that long, not DATAIN_QUERY_TIMEOUT, and no longer', async () => {
    process.env.DATAIN_QUERY_TIMEOUT = '1'
    const proxy = await startMariaDbProxy({upstream: {host: sandbox.source.host, port: sandbox.source.port}, rewrite: () => undefined})
    try {
      const conn = await connectTo('source', {host: sandbox.source.host, port: sandbox.source.port, user: sandbox.source.user, password: sandbox.source.password, tls: {ca: await readFile(sandbox.source.sslCa, 'utf8'), verify: true}})
      // Longer than the metadata bound: the default would end it at 1 s.
      await expect(conn.query('SELECT SLEEP(1.5) AS s')).rejects.toMatchObject({code: 'E_SOURCE_UNRESPONSIVE'})
      const again = await connectTo('source', {host: sandbox.source.host, port: sandbox.source.port, user: sandbox.source.user, password: sandbox.source.password, tls: {ca: await readFile(sandbox.source.sslCa, 'utf8'), verify: true}})
      expect(await again.query(withDeadline('SELECT SLEEP(1.5) AS s', 10_000))).toEqual([{s: 0}])
      await again.end()
      // And a silent server still ends it at its own bound.
      const silent = await connectTo('source', {host: proxy.host, port: proxy.port, user: sandbox.source.user, password: sandbox.source.password})
      proxy.silence()
      const started = Date.now()
      await expect(silent.query(withDeadline('CHECKSUM TABLE mysql.user', 1500))).rejects.toMatchObject({code: 'E_SOURCE_UNRESPONSIVE', message: expect.stringContaining('within 1.5 s')})
      expect(Date.now() - started).toBeLessThan(5000)
    } finally {
      delete process.env.DATAIN_QUERY_TIMEOUT
      await proxy.close()
    }
  })

  it('sizes the bound of a long statement by its work, never below 30 minutes nor DATAIN_QUERY_TIMEOUT', () => {
    expect(sizedDeadlineMs(0, 1024 * 1024, {})).toBe(30 * 60_000)
    expect(sizedDeadlineMs(-5, 10, {})).toBe(30 * 60_000)
    // 100 GiB at a MiB a second: 102,400 s.
    expect(sizedDeadlineMs(100 * 1024 ** 3, 1024 * 1024, {})).toBe(102_400_000)
    expect(sizedDeadlineMs(1e9, 10_000, {})).toBe(100_000_000)
    expect(sizedDeadlineMs(10, 10_000, {DATAIN_QUERY_TIMEOUT: '7200'})).toBe(7_200_000)
  })

  it('datain status against a replica that accepts TCP and never answers, or lets datain log in and then never answers: exit 4 within a bound', async () => {
    const env = {...sandbox.env(), DATAIN_HOME: home}
    const init = await datain(['init'], env)
    expect(init.exitCode, init.stderr + init.stdout).toBe(0)
    const start = await datain(['start'], env)
    expect(start.exitCode, start.stderr).toBe(0)

    const file = path.join(home, 'profiles', 'default', 'settings.json')
    const pointReplicaAt = async (port: number) => {
      const settings = JSON.parse(await readFile(file, 'utf8')) as {replica: {host: string; port: number}}
      settings.replica = {...settings.replica, host: '127.0.0.1', port}
      await writeFile(file, JSON.stringify(settings, null, 2), {mode: 0o600})
    }
    const statusOf = async (extra: Record<string, string> = {}) => {
      const started = Date.now()
      const result = await datain(['status', '--json'], {...env, ...extra})
      const report = JSON.parse(result.stdout) as {state: string; replication: {error: {code: string; message: string}}}
      return {seconds: (Date.now() - started) / 1000, exitCode: result.exitCode, report}
    }

    // Reads what it is sent, answers nothing, closes nothing: not even the greeting comes.
    const sockets = new Set<net.Socket>()
    const mute = net.createServer((socket) => {
      sockets.add(socket)
      socket.on('data', () => {})
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
    // Lets the login through (TLS, the replica's certificate), then never answers a query.
    const silent = await startSilentServer({cert: path.join(sandbox.dir, 'certs', 'replica-cert.pem'), key: path.join(sandbox.dir, 'certs', 'replica-key.pem')})
    try {
      await pointReplicaAt((mute.address() as net.AddressInfo).port)
      const before = await statusOf()
      expect(before.seconds).toBeLessThan(30)
      expect(before.exitCode).toBe(4)
      expect(before.report.state).toBe('replica-unreachable')
      expect(before.report.replication.error).toMatchObject({code: 'E_REPLICA_UNREACHABLE', message: expect.stringMatching(/No answer from the replica at 127\.0\.0\.1:\d+ within 10 s/)})

      await pointReplicaAt(silent.port)
      const after = await statusOf({DATAIN_QUERY_TIMEOUT: '2'})
      expect(silent.logins).toBeGreaterThan(0)
      expect(after.seconds).toBeLessThan(20)
      expect(after.exitCode).toBe(4)
      expect(after.report.state).toBe('replica-unreachable')
      expect(after.report.replication.error).toMatchObject({
        code: 'E_REPLICA_UNRESPONSIVE',
        message: expect.stringMatching(/^The replica at 127\.0\.0\.1:\d+ accepted datain's connection but gave no answer to a query within 2 s/),
      })
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => mute.close(() => resolve()))
      await silent.close()
    }
  })
})
