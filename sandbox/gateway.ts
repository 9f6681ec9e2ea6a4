import {createConnection, createServer, type Server, type Socket} from 'node:net'

export interface GatewayOptions {
  /** Where the real replica listens. */
  target: {host: string; port: number}
  /** Asked on every new connection with the client's address. */
  isAllowed(ip: string): boolean
  host?: string
  port?: number
}

export interface Gateway {
  host: string
  port: number
  /** Connections refused so far, with the address each came from. */
  refused: string[]
  /**
   * When set, the address error 9000 names instead of the client's: the text comes before TLS, so
   * tests play a gateway (or whoever sits on the path) that names 0.0.0.0 or any other address.
   */
  namedIp?: string
  close(): Promise<void>
}

/** Azure's gateway answers a client outside every firewall rule with this error, before any handshake. */
export const GATEWAY_DENIED_ERRNO = 9000

export function gatewayDeniedMessage(ip: string): string {
  return `Client with IP address '${ip}' is not allowed to connect to this MariaDB server.`
}

/**
 * A MySQL protocol error packet, as a server sends instead of its greeting:
 * 3-byte length, sequence id 0, then 0xFF, the error number, '#', the SQLSTATE and the message.
 */
export function errorPacket(errno: number, sqlState: string, message: string): Buffer {
  const payload = Buffer.concat([
    Buffer.from([0xff, errno & 0xff, (errno >> 8) & 0xff]),
    Buffer.from(`#${sqlState}${message}`, 'utf8'),
  ])
  const header = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, (payload.length >> 16) & 0xff, 0])
  return Buffer.concat([header, payload])
}

/**
 * The emulated Azure gateway: a TCP proxy in front of the replica that refuses clients no firewall
 * rule covers (error 9000 naming their IP) and otherwise passes the bytes through untouched, TLS
 * included.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const sockets = new Set<Socket>()
  const refused: string[] = []
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }

  // No Nagle delay on either side, as a database proxy runs: with it, a client's small packet after a
  // large one waited for the ACK the server delays (40 ms), and every LOAD DATA or INSERT with it.
  const server: Server = createServer({noDelay: true}, (client) => {
    track(client)
    const ip = (client.remoteAddress ?? '').replace(/^::ffff:/, '')
    if (!options.isAllowed(ip)) {
      refused.push(ip)
      client.end(errorPacket(GATEWAY_DENIED_ERRNO, 'HY000', gatewayDeniedMessage(gateway.namedIp ?? ip)))
      return
    }
    const upstream = createConnection({...options.target, noDelay: true})
    track(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    // Either side going away ends the other, as a real gateway drops the pair.
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })

  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('gateway: no address')

  const gateway: Gateway = {
    host,
    port: address.port,
    refused,
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return gateway
}
