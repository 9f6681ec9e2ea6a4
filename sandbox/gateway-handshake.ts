import {createConnection, type Socket} from 'node:net'
import {connect as tlsConnect, type SecureContext, TLSSocket} from 'node:tls'
import {
  BAD_HANDSHAKE,
  clientHello,
  errorPacket,
  framePacket,
  greetingOffersTls,
  HandshakeFailure,
  loginUser,
  PacketReader,
} from './gateway-packets.js'

/** What Azure's gateway answers a login it cannot route: no `@server`, or another server's name. */
export const GATEWAY_LOGIN_ERRNO = 9002
export const GATEWAY_LOGIN_MESSAGE = 'The connection string may not be right. Please visit portal for references.'
/** Its answer, with the same number, to a client that does not turn to TLS while the server enforces SSL. */
export const GATEWAY_SSL_REQUIRED_MESSAGE = 'SSL connection is required. Please specify SSL options and retry.'

/**
 * The largest handshake packet the gateway reads: the fixed part, a user name, a scramble, a
 * database, a plugin name and connection attributes (the server caps those at 64 KiB) fit.
 */
const MAX_HANDSHAKE_PAYLOAD = 80 * 1024
/** A client or replica that has not finished the handshake by then is dropped, as a gateway must bound every wait. */
export const HANDSHAKE_TIMEOUT_MS = 10_000

export interface LoginRoute {
  /** Where the replica listens, and the CA its certificate is checked against. */
  target: {host: string; port: number; ca: string}
  /** The certificate the gateway shows its clients (it terminates their TLS). */
  secureContext: SecureContext
  /** The replica's ARM name: a login `user@<this>` reaches the replica's account `user`. */
  serverName: string
  /** Every socket the connection opens, so that the gateway can close them all. */
  track(socket: Socket): void
  /** How long a client and the replica get to finish the handshake (default HANDSHAKE_TIMEOUT_MS). */
  handshakeTimeoutMs?: number
}

/**
 * Plays Azure's gateway for one client up to its login, then leaves the two TLS sessions piped to
 * each other: the replica's greeting relayed (its nonce is what the client's scramble is made
 * with), the client's TLS terminated, its login `user@server` checked and renamed `user`, and a TLS
 * session of the gateway's own to the replica that carries the rest.
 */
export async function routeLogin(client: Socket, route: LoginRoute): Promise<void> {
  const upstream = createConnection({host: route.target.host, port: route.target.port, noDelay: true})
  route.track(upstream)
  const sockets: Array<Socket | TLSSocket> = []
  const dropAll = () => {
    for (const socket of sockets) socket.destroy()
  }
  // During the handshake any socket of the pair going away, raw or TLS, ends the others at once.
  const guard = (socket: Socket | TLSSocket) => {
    sockets.push(socket)
    socket.on('error', dropAll)
    socket.on('close', dropAll)
  }
  guard(client)
  guard(upstream)
  const timer = setTimeout(dropAll, route.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS)
  // Where a refusal goes: the client's raw socket, then its TLS session once there is one.
  const clientSide: ClientSide = {socket: client, nextSeq: 2}
  try {
    const [clientTls, upstreamTls] = await handshake(client, upstream, route, guard, clientSide)
    for (const socket of sockets) socket.off('close', dropAll)
    relay(clientTls, upstreamTls)
  } catch (error) {
    const errno = error instanceof HandshakeFailure ? error.errno : 0
    if (errno === BAD_HANDSHAKE) await endWith(clientSide.socket, errorPacket(BAD_HANDSHAKE, '08S01', 'Bad handshake', clientSide.nextSeq))
    dropAll()
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Pipes the two TLS sessions. One side closing ends the other gracefully, so that its last bytes
 * arrive (the replica's 1927 "Connection was killed" before it closes), then drops it if it lingers.
 */
function relay(clientTls: TLSSocket, upstreamTls: TLSSocket): void {
  clientTls.pipe(upstreamTls)
  upstreamTls.pipe(clientTls)
  for (const [side, other] of [[clientTls, upstreamTls], [upstreamTls, clientTls]] as const) {
    side.once('close', () => {
      other.end()
      setTimeout(() => other.destroy(), LAST_WORD_MS).unref()
    })
  }
}

type Guard = (socket: TLSSocket) => void
interface ClientSide {
  socket: Socket | TLSSocket
  nextSeq: number
}

async function handshake(client: Socket, upstream: Socket, route: LoginRoute, guard: Guard, clientSide: ClientSide): Promise<[TLSSocket, TLSSocket]> {
  const fromReplica = new PacketReader(upstream, MAX_HANDSHAKE_PAYLOAD)
  const greeting = await fromReplica.next()
  if (greeting.payload[0] === 0xff) {
    // The replica refused before any login (1040 too many connections, 1129 host blocked): its own words reach the client.
    await endWith(client, framePacket(greeting.seq, greeting.payload))
    throw new HandshakeFailure('the replica refused the connection')
  }
  if (fromReplica.detach().length > 0 || !greetingOffersTls(greeting)) throw new HandshakeFailure('the replica greeted without TLS')
  client.write(framePacket(greeting.seq, greeting.payload))

  const fromClient = new PacketReader(client, MAX_HANDSHAKE_PAYLOAD)
  const hello = await fromClient.next()
  if (clientHello(hello) === 'plain-login') {
    // The sandbox's server enforces SSL (Azure's default, sslEnforcement Enabled): the login is never passed on.
    await endWith(client, errorPacket(GATEWAY_LOGIN_ERRNO, '28000', GATEWAY_SSL_REQUIRED_MESSAGE, hello.seq + 1))
    throw new HandshakeFailure('a login without TLS')
  }
  const clientTls = await serveTls(client, fromClient.detach(), route.secureContext, guard)
  clientSide.socket = clientTls
  clientSide.nextSeq = hello.seq + 2
  const fromClientTls = new PacketReader(clientTls, MAX_HANDSHAKE_PAYLOAD)
  const response = await fromClientTls.next()
  if (response.seq !== hello.seq + 1) throw new HandshakeFailure('packets out of order', BAD_HANDSHAKE)
  const login = loginUser(response.payload)
  const user = serverSideUser(login.user, route.serverName)
  if (user === undefined) {
    fromClientTls.detach()
    await endWith(clientTls, errorPacket(GATEWAY_LOGIN_ERRNO, '28000', GATEWAY_LOGIN_MESSAGE, response.seq + 1))
    throw new HandshakeFailure('a login without @server')
  }

  // The client's SSLRequest as it was, then the gateway's own TLS: the replica sees the same sequence ids.
  upstream.write(framePacket(hello.seq, hello.payload))
  const upstreamTls = await clientTlsTo(upstream, route.target, guard)
  upstreamTls.write(framePacket(response.seq, login.withUser(user)))
  const rest = fromClientTls.detach()
  if (rest.length > 0) upstreamTls.write(rest)
  return [clientTls, upstreamTls]
}

/**
 * The account a login names on the replica: the part before the last '@' when what follows is the
 * server's name (host names are case-insensitive), else undefined: the gateway refuses the login.
 */
export function serverSideUser(login: Buffer, serverName: string): Buffer | undefined {
  // 0x40 never occurs inside a multi-byte UTF-8 character, so a byte search finds the real '@'.
  const at = login.lastIndexOf(0x40)
  if (at <= 0) return undefined
  return login.subarray(at + 1).toString('latin1').toLowerCase() === serverName.toLowerCase() ? login.subarray(0, at) : undefined
}

/** Turns the client's socket to TLS as the server side; bytes already read (its ClientHello) go first. */
async function serveTls(socket: Socket, alreadyRead: Buffer, secureContext: SecureContext, guard: Guard): Promise<TLSSocket> {
  // A TLSSocket feeds itself what the wrapped socket holds unread, so the ClientHello that came with
  // the SSLRequest in one read is put back rather than lost.
  if (alreadyRead.length > 0) socket.unshift(alreadyRead)
  const tls = new TLSSocket(socket, {isServer: true, secureContext})
  guard(tls)
  return secured(tls, 'secure', 'the client')
}

async function clientTlsTo(socket: Socket, target: LoginRoute['target'], guard: Guard): Promise<TLSSocket> {
  const tls = tlsConnect({socket, ca: target.ca, host: target.host})
  guard(tls)
  return secured(tls, 'secureConnect', 'the replica')
}

/** Resolves once the TLS handshake is done (`event`), fails when it errs or `who` leaves first. */
async function secured(tls: TLSSocket, event: 'secure' | 'secureConnect', who: string): Promise<TLSSocket> {
  await new Promise<void>((resolve, reject) => {
    tls.once(event, resolve)
    tls.once('error', reject)
    tls.once('close', () => reject(new HandshakeFailure(`${who} left during TLS`)))
  })
  return tls
}

/**
 * Writes a last packet and half-closes, then waits (bounded) for the peer to close its side: a
 * socket destroyed at once, with the peer's bytes unread, resets the connection, and the client
 * may never read the error.
 */
function endWith(socket: Socket | TLSSocket, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve()
    const timer = setTimeout(resolve, LAST_WORD_MS)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
    socket.end(bytes)
  })
}

const LAST_WORD_MS = 2000
