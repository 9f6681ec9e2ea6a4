import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {type AddressInfo, connect, createServer, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {Duplex} from 'node:stream'
import {connect as tlsConnect, type TLSSocket} from 'node:tls'
import fc from 'fast-check'
import mariadb, {type Connection, type ConnectionConfig} from 'mariadb'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {GATEWAY_LOGIN_MESSAGE, GATEWAY_SSL_REQUIRED_MESSAGE, serverSideUser} from '../../sandbox/gateway-handshake.js'
import {startGateway} from '../../sandbox/gateway.js'
import {clientHello, errorPacket, framePacket, loginUser, PacketReader} from '../../sandbox/gateway-packets.js'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {datain} from '../helpers/datain.js'
import {allowLoopback} from '../helpers/preflight.js'

/**
 * The emulated Azure gateway as Azure's behaves: it terminates the client's TLS, routes the login
 * `user@server` to the server's account `user` over TLS of its own, and refuses a login it cannot
 * route with error 9002. Hostile clients get "Bad handshake" or a closed socket, never a crashed sandbox.
 */

let sandbox: Sandbox
let ca: string

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 20})
  ca = readFileSync(sandbox.replica.sslCa, 'utf8')
  allowLoopback(sandbox)
})

afterAll(async () => {
  await sandbox?.stop()
})

function login(user: string, extra: Partial<ConnectionConfig> = {}): Promise<Connection> {
  return mariadb.createConnection({
    host: sandbox.replica.host,
    port: sandbox.replica.port,
    user,
    password: sandbox.replica.password,
    ssl: {ca},
    connectTimeout: 5000,
    ...extra,
  })
}

const refusal = (promise: Promise<Connection>) =>
  promise.then(
    async (conn) => {
      await conn.end()
      throw new Error('the login was let in')
    },
    (error: {errno?: number; sqlState?: string; sqlMessage?: string}) => error,
  )

describe('logins through the emulated gateway', () => {
  it('routes user@server to the account user, over TLS the client verifies and TLS of its own to the server', async () => {
    const conn = await login(sandbox.replica.user)
    const [row] = await conn.query(
      "SELECT CURRENT_USER() AS cu, USER() AS u, (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_CIPHER') AS cipher",
    )
    expect(sandbox.replica.user).toBe('azureadmin@datain-replica')
    expect(sandbox.replica.account).toBe('azureadmin')
    expect(row.cu).toBe('azureadmin@%')
    expect(row.u).toBe('azureadmin@127.0.0.1')
    // The server sees TLS: the gateway's own session, since the client's ends at the gateway.
    expect(row.cipher).not.toBe('')
    await conn.end()
    // Host names are case-insensitive: so is the server part of the login.
    const upper = await login('azureadmin@DATAIN-REPLICA')
    expect((await upper.query('SELECT CURRENT_USER() AS cu'))[0].cu).toBe('azureadmin@%')
    await upper.end()
  })

  it('refuses a login without @server, or naming another server, with 9002 before the server sees it', async () => {
    for (const user of ['azureadmin', 'azureadmin@other-server', '@datain-replica', 'azureadmin@datain-replica.', 'azureadmin@']) {
      const error = await refusal(login(user))
      expect(error, user).toMatchObject({errno: 9002, sqlState: '28000', sqlMessage: GATEWAY_LOGIN_MESSAGE})
    }
  })

  it('refuses a client that does not turn to TLS (sslEnforcement Enabled) with 9002', async () => {
    const error = await refusal(login(sandbox.replica.user, {ssl: undefined}))
    expect(error).toMatchObject({errno: 9002, sqlState: '28000', sqlMessage: GATEWAY_SSL_REQUIRED_MESSAGE})
  })

  it('relays the server’s own refusals: a wrong password is 1045 for the server-side account', async () => {
    const error = await refusal(login(sandbox.replica.user, {password: 'wrong'}))
    expect(error.errno).toBe(1045)
    expect(error.sqlMessage).toContain("'azureadmin'@'127.0.0.1'")
  })

  it('passes the replica killing a session on at once, as a direct connection sees it (the socket closed)', async () => {
    const conn = await login(sandbox.replica.user)
    conn.on('error', () => {})
    const [row] = await conn.query('SELECT CONNECTION_ID() AS id')
    const started = Date.now()
    const sleeping = conn.query('SELECT SLEEP(20)').then(
      () => undefined,
      (error: {errno?: number}) => error,
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    await sandbox.replica.server.query(`KILL ${Number(row.id)}`)
    // MariaDB sends no packet for a KILL during SLEEP(): a client connected directly reads the same 45009.
    expect(await sleeping).toMatchObject({errno: 45009})
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('relays a refusal the replica greets with (1040), and drops a client whose replica is gone', async () => {
    const fake = createServer((socket) => socket.end(errorPacket(1040, '08004', 'Too many connections')))
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve))
    const certs = path.join(sandbox.dir, 'certs')
    const gateway = await startGateway({
      target: {host: '127.0.0.1', port: (fake.address() as AddressInfo).port, ca},
      tls: {cert: readFileSync(path.join(certs, 'replica-cert.pem'), 'utf8'), key: readFileSync(path.join(certs, 'replica-key.pem'), 'utf8')},
      serverName: 'datain-replica',
      isAllowed: () => true,
    })
    const through = () => login(sandbox.replica.user, {host: gateway.host, port: gateway.port})
    try {
      expect(await refusal(through())).toMatchObject({errno: 1040, sqlMessage: 'Too many connections'})
      await new Promise((resolve) => fake.close(resolve))
      const gone = (await refusal(through())) as {errno?: number; message?: string}
      expect(gone.errno).not.toBe(1040)
      expect(gone.message).toMatch(/socket|closed|ECONNRESET/i)
    } finally {
      await gateway.close()
      fake.close()
    }
  })

  it('a certificate from another CA is refused by the client, as the gateway shows the sandbox’s certificate', async () => {
    const other = readFileSync(sandbox.source.sslCa, 'utf8')
    const error = (await refusal(login(sandbox.replica.user, {ssl: {ca: other}}))) as {message?: string}
    expect(error.message).toMatch(/certificate/i)
  })

  it('relays an auth switch, and a ClientHello sent in one segment with the SSLRequest', async () => {
    const client = await rawClient()
    const tls = await client.startTls({coalesce: true})
    // Names a plugin the account does not use: the server asks to switch to mysql_native_password.
    tls.write(framePacket(2, handshakeResponse('azureadmin@datain-replica', Buffer.alloc(32, 7), 'client_ed25519')))
    const reader = new PacketReader(tls, 1 << 20)
    const switchRequest = await reader.next()
    expect(switchRequest.payload[0]).toBe(0xfe)
    const pluginEnd = switchRequest.payload.indexOf(0, 1)
    expect(switchRequest.payload.subarray(1, pluginEnd).toString()).toBe('mysql_native_password')
    const nonce = switchRequest.payload.subarray(pluginEnd + 1, pluginEnd + 21)
    tls.write(framePacket(switchRequest.seq + 1, nativeScramble(sandbox.replica.password, nonce)))
    const ok = await reader.next()
    expect(ok.payload[0]).toBe(0x00)
    reader.detach()
    tls.destroy()
  })
})

describe('hostile clients', () => {
  it('answers Bad handshake or closes, and keeps serving everyone else', async () => {
    const oversized = Buffer.from([0xff, 0xff, 0xff, 1])
    expect(errnoOf(await exchange([oversized]))).toBe(1043)
    expect(errnoOf(await exchange([framePacket(1, Buffer.from('hello'))]))).toBe(1043)
    // A pre-4.1 response (no CLIENT_PROTOCOL_41), and packets out of order.
    expect(errnoOf(await exchange([framePacket(1, Buffer.alloc(40))]))).toBe(1043)
    expect(errnoOf(await exchange([framePacket(5, handshakeResponse('azureadmin@datain-replica', Buffer.alloc(20)))]))).toBe(1043)
    // Closing right after the greeting, half a packet, an SSLRequest then no TLS at all.
    expect(await exchange([])).toEqual(Buffer.alloc(0))
    expect(await exchange([Buffer.from([50, 0, 0, 1, 0x0d])], {end: true})).toEqual(Buffer.alloc(0))
    expect(await exchange([framePacket(1, sslRequest()), Buffer.from('GET / HTTP/1.1\r\n\r\n')])).toEqual(Buffer.alloc(0))

    // Over TLS: a user name without its NUL, then a client that leaves mid-TLS.
    const client = await rawClient()
    const tls = await client.startTls({coalesce: false})
    const broken = handshakeResponse('azureadmin@datain-replica', Buffer.alloc(20))
    tls.write(framePacket(2, broken.subarray(0, broken.indexOf(0, 32))))
    const answer = await drain(tls)
    expect(answer[3]).toBe(3)
    expect(errnoOf(answer)).toBe(1043)
    const leaving = await rawClient()
    leaving.socket.write(framePacket(1, sslRequest()))
    const half = tlsConnect({socket: leaving.socket, ca, host: '127.0.0.1'})
    half.on('error', () => {})
    half.destroy()

    // A hundred and twenty refused logins, each an aborted handshake on the server, do not get the
    // gateway's address blocked there (max_connect_errors is 100).
    for (let i = 0; i < 120; i++) expect((await refusal(login('azureadmin'))).errno).toBe(9002)
    const conn = await login(sandbox.replica.user)
    expect((await conn.query('SELECT 1 AS one'))[0].one).toBe(1)
    await conn.end()
  })
})

describe('a gateway of its own in front of the replica', () => {
  it('drops a client that stays silent after the greeting, and one that stops mid-TLS, once the handshake bound passes', async () => {
    const gateway = await ownGateway({handshakeTimeoutMs: 300})
    try {
      const silent = await rawClient(gateway)
      const started = Date.now()
      expect(await drain(silent.socket)).toEqual(Buffer.alloc(0))
      expect(Date.now() - started).toBeLessThan(3000)
      const stalled = await rawClient(gateway)
      stalled.socket.write(framePacket(1, sslRequest()))
      expect(await drain(stalled.socket)).toEqual(Buffer.alloc(0))
      expect(Date.now() - started).toBeLessThan(6000)
    } finally {
      await gateway.close()
    }
  })

  it('answers any bytes after the greeting with Bad handshake, 9002 or a close, and still lets a real login in', async () => {
    const gateway = await ownGateway({handshakeTimeoutMs: 500})
    try {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({minLength: 0, maxLength: 300}), fc.boolean(), async (bytes, framed) => {
          const {socket} = await rawClient(gateway)
          const sent = Buffer.from(bytes)
          socket.write(framed ? framePacket(1, sent) : sent)
          const answer = await drain(socket)
          // Nothing, or one error packet: 1043 for what is not a login, 9002 for a plain-text login.
          if (answer.length > 0) expect([1043, 9002]).toContain(errnoOf(answer))
        }),
        {numRuns: 40},
      )
      const conn = await login(sandbox.replica.user, {host: gateway.host, port: gateway.port})
      expect((await conn.query('SELECT CURRENT_USER() AS cu'))[0].cu).toBe('azureadmin@%')
      await conn.end()
    } finally {
      await gateway.close()
    }
  })
})

/** A second gateway to the sandbox's replica, with options of its own. */
function ownGateway(options: {handshakeTimeoutMs: number}): ReturnType<typeof startGateway> {
  const certs = path.join(sandbox.dir, 'certs')
  return startGateway({
    target: {host: '127.0.0.1', port: sandbox.replica.server.port, ca},
    tls: {cert: readFileSync(path.join(certs, 'replica-cert.pem'), 'utf8'), key: readFileSync(path.join(certs, 'replica-key.pem'), 'utf8')},
    serverName: 'datain-replica',
    isAllowed: () => true,
    ...options,
  })
}

describe('datain through the gateway', () => {
  it('says the login must be user@servername, naming the server, when the gateway refuses it (exit 4, no profile)', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'datain-gateway-'))
    try {
      const env = {...sandbox.env(), DATAIN_HOME: home}
      for (const user of ['azureadmin', 'azureadmin@other-server']) {
        const init = await datain(['init', '--databases', 'shop', '--json'], {...env, DATAIN_REPLICA_USER: user})
        expect(init.exitCode, init.stderr).toBe(4)
        const {error} = JSON.parse(init.stdout) as {error: {code: string; message: string}}
        expect(error.code).toBe('E_REPLICA_LOGIN_NAME')
        expect(error.message).toContain(`refused the login '${user}' (error 9002`)
        expect(error.message).toContain('the user is written user@servername')
        expect(error.message).toContain("'datain init --force --replica-user azureadmin@datain-replica'")
        expect(error.message).not.toContain('\n')
      }
      const text = await datain(['init', '--databases', 'shop'], {...env, DATAIN_REPLICA_USER: 'azureadmin'})
      expect(text.exitCode).toBe(4)
      // oclif wraps the paragraph and marks each line with '›'.
      const said = text.stderr.replaceAll('›', ' ').replaceAll(/\s+/g, ' ')
      expect(said).toContain("Log in as 'azureadmin@datain-replica' (the account 'azureadmin' on the server)")
      expect(said).toContain('Code: E_REPLICA_LOGIN_NAME')
      expect(text.stderr).not.toMatch(/ at .*\.js:\d+/)
      expect((await datain(['profiles', '--json'], env)).stdout).not.toContain('"default"')

      // The right login passes, and what datain reports names the server's account, not the login.
      const good = await datain(['init', '--databases', 'shop', '--json'], env)
      expect(good.exitCode, good.stderr).toBe(0)
      expect(good.stdout).toContain("'azureadmin'@'%'")
      expect(good.stdout).not.toContain("'azureadmin@datain-replica'@")
    } finally {
      await rm(home, {recursive: true, force: true})
    }
  })
})

describe('the login name rules', () => {
  it('take the part before the last @ when what follows is the server name, and refuse everything else', () => {
    const cases: Array<[string, string | undefined]> = [
      ['azureadmin@datain-replica', 'azureadmin'],
      ['a@b@datain-replica', 'a@b'],
      ['ünï@Datain-Replica', 'ünï'],
      ['azureadmin', undefined],
      ['@datain-replica', undefined],
      ['azureadmin@datain-replica@x', undefined],
      ['azureadmin@datain-replica\u0000', undefined],
    ]
    for (const [user, expected] of cases) expect(serverSideUser(Buffer.from(user), 'datain-replica')?.toString(), user).toBe(expected)
  })

  it('keep everything after the user name byte for byte', () => {
    const payload = handshakeResponse('azureadmin@datain-replica', Buffer.alloc(20, 9), 'mysql_native_password', Buffer.from([3, 1, 0x61, 0]))
    const parsed = loginUser(payload)
    const renamed = parsed.withUser(Buffer.from('azureadmin'))
    expect(renamed.subarray(0, 32)).toEqual(payload.subarray(0, 32))
    expect(renamed.subarray(32 + 'azureadmin'.length)).toEqual(payload.subarray(32 + 'azureadmin@datain-replica'.length))
    expect(clientHello({seq: 1, payload: sslRequest()})).toBe('ssl-request')
    expect(clientHello({seq: 1, payload})).toBe('plain-login')
  })
})

const CAPABILITIES = 0x1 | 0x200 | 0x800 | 0x8000 | 0x80000

function sslRequest(): Buffer {
  const payload = Buffer.alloc(32)
  payload.writeUInt32LE(CAPABILITIES, 0)
  payload.writeUInt32LE(16 << 20, 4)
  payload[8] = 45
  return payload
}

function handshakeResponse(user: string, auth: Buffer, plugin = 'mysql_native_password', tail = Buffer.alloc(0)): Buffer {
  return Buffer.concat([sslRequest(), Buffer.from(`${user}\0`), Buffer.from([auth.length]), auth, Buffer.from(`${plugin}\0`), tail])
}

function nativeScramble(password: string, nonce: Buffer): Buffer {
  const sha1 = (b: Buffer) => createHash('sha1').update(b).digest()
  const stage1 = sha1(Buffer.from(password))
  const mix = sha1(Buffer.concat([nonce, sha1(stage1)]))
  return Buffer.from(stage1.map((b, i) => b ^ mix[i]!))
}

/** A raw client past the gateway's greeting, which can turn to TLS with its SSLRequest and ClientHello in one write. */
async function rawClient(to: {host: string; port: number} = sandbox.replica): Promise<{socket: Socket; startTls(o: {coalesce: boolean}): Promise<TLSSocket>}> {
  const socket = connect({host: to.host, port: to.port})
  const reader = new PacketReader(socket, 1 << 16)
  await reader.next()
  reader.detach()
  socket.resume()
  return {
    socket,
    async startTls({coalesce}) {
      let stream: Duplex = socket
      if (coalesce) {
        let first = true
        stream = new Duplex({
          write(chunk: Buffer, _encoding, done) {
            socket.write(first ? Buffer.concat([framePacket(1, sslRequest()), chunk]) : chunk, done)
            first = false
          },
          read() {},
        })
        socket.on('data', (data) => stream.push(data))
        socket.on('end', () => stream.push(null))
      } else {
        socket.pause()
        socket.write(framePacket(1, sslRequest()))
      }
      const tls = tlsConnect({socket: stream, ca, host: '127.0.0.1'})
      await new Promise((resolve, reject) => tls.once('secureConnect', resolve).once('error', reject))
      return tls
    },
  }
}

/** Connects, reads the greeting, sends `chunks` (then its FIN with `end`), and returns all the gateway sends back until it closes. */
async function exchange(chunks: Buffer[], options: {end?: boolean} = {}): Promise<Buffer> {
  const {socket} = await rawClient()
  for (const chunk of chunks) socket.write(chunk)
  if (chunks.length === 0 || options.end) socket.end()
  return drain(socket)
}

function drain(socket: Socket | TLSSocket): Promise<Buffer> {
  const received: Buffer[] = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the gateway did not close the connection')), 15_000)
    socket.on('data', (data: Buffer) => received.push(data))
    socket.on('error', () => {})
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(received))
    })
  })
}

const errnoOf = (packet: Buffer) => (packet[4] === 0xff ? packet.readUInt16LE(5) : undefined)
