import {readFileSync} from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'

/**
 * A MariaDB server that lets any login in (over TLS, with the certificate it is given) and then
 * never answers a query: a server that hangs, or a link that drops every packet after the
 * handshake, as the client sees it. Queries are read and left unanswered; nothing is closed.
 */
export interface SilentServer {
  host: string
  port: number
  /** Logins it accepted. */
  readonly logins: number
  close(): Promise<void>
}

const CLIENT_LONG_PASSWORD = 0x1
const CLIENT_PROTOCOL_41 = 0x200
const CLIENT_SSL = 0x800
const CLIENT_TRANSACTIONS = 0x2000
const CLIENT_SECURE_CONNECTION = 0x8000
const CLIENT_PLUGIN_AUTH = 0x80000

export async function startSilentServer(tlsFiles: {cert: string; key: string}): Promise<SilentServer> {
  const cert = readFileSync(tlsFiles.cert)
  const key = readFileSync(tlsFiles.key)
  const sockets = new Set<net.Socket>()
  let logins = 0
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    socket.write(packet(0, greeting()))
    let buffered = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      if (buffered.length < 4) return
      const length = buffered.readUIntLE(0, 3)
      if (buffered.length < 4 + length) return
      // The SSL request: TLS from the next byte on.
      socket.off('data', onData)
      socket.pause()
      const rest = buffered.subarray(4 + length)
      if (rest.length > 0) socket.unshift(rest)
      const secure = new tls.TLSSocket(socket, {isServer: true, cert, key})
      secure.on('error', () => {})
      sockets.add(secure)
      let answered = false
      secure.on('data', () => {
        // The handshake response is let in; everything after it is read and never answered.
        if (answered) return
        answered = true
        logins++
        secure.write(packet(3, Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00])))
      })
    }
    socket.on('data', onData)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    get logins() {
      return logins
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function greeting(): Buffer {
  const caps = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
  const scramble = Buffer.from('abcdefghijklmnopqrst')
  const head = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10)
  let o = 0
  head.writeUInt32LE(1, o) // thread id
  o += 4
  scramble.copy(head, o, 0, 8)
  o += 8
  head[o++] = 0
  head.writeUInt16LE(caps & 0xffff, o)
  o += 2
  head[o++] = 45 // utf8mb4_general_ci
  head.writeUInt16LE(0x0002, o) // autocommit
  o += 2
  head.writeUInt16LE(caps >>> 16, o)
  o += 2
  head[o++] = 21
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from('5.5.5-10.11.6-MariaDB\0', 'latin1'),
    head,
    scramble.subarray(8),
    Buffer.from([0]),
    Buffer.from('mysql_native_password\0', 'latin1'),
  ])
}

function packet(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4)
  header.writeUIntLE(payload.length, 0, 3)
  header[3] = seq
  return Buffer.concat([header, payload])
}
