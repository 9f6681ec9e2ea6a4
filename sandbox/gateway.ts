import {createServer, type Server, type Socket} from 'node:net'
import {createSecureContext} from 'node:tls'
import {routeLogin} from './gateway-handshake.js'
import {errorPacket} from './gateway-packets.js'

export interface GatewayOptions {
  /** Where the real replica listens, and the CA (PEM text) that signed its certificate. */
  target: {host: string; port: number; ca: string}
  /** The certificate (PEM text) the gateway shows clients: it terminates their TLS, as Azure's does. */
  tls: {cert: string; key: string}
  /** The replica's ARM name: logins are written `user@<serverName>`. */
  serverName: string
  /** Asked on every new connection with the client's address. */
  isAllowed(ip: string): boolean
  host?: string
  port?: number
  /** How long a client gets to finish its login before it is dropped (tests shorten it). */
  handshakeTimeoutMs?: number
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
 * The emulated Azure gateway in front of the replica. It refuses clients no firewall rule covers
 * (error 9000 naming their IP, before any handshake); for the others it relays the replica's
 * greeting, terminates the client's TLS, routes the login `user@server` to the replica's account
 * `user` over a TLS session of its own (error 9002 for a login it cannot route), then relays the
 * bytes both ways (gateway-handshake.ts).
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const sockets = new Set<Socket>()
  const refused: string[] = []
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  const secureContext = createSecureContext({cert: options.tls.cert, key: options.tls.key})

  // No Nagle delay on either side, as a database proxy runs: with it, a client's small packet after a
  // large one waited for the ACK the server delays (40 ms), and every LOAD DATA or INSERT with it.
  const server: Server = createServer({noDelay: true}, (client) => {
    track(client)
    const ip = (client.remoteAddress ?? '').replace(/^::ffff:/, '')
    if (!options.isAllowed(ip)) {
      refused.push(ip)
      client.on('error', () => client.destroy())
      client.end(errorPacket(GATEWAY_DENIED_ERRNO, 'HY000', gatewayDeniedMessage(gateway.namedIp ?? ip)))
      return
    }
    // routeLogin settles every failure itself (it drops the pair): one client never takes the gateway down.
    routeLogin(client, {target: options.target, secureContext, serverName: options.serverName, track, handshakeTimeoutMs: options.handshakeTimeoutMs}).catch(() => client.destroy())
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
