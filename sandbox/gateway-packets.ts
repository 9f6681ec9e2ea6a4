import type {Duplex} from 'node:stream'

/** One MySQL protocol packet: its sequence id and payload (the 4-byte header taken off). */
export interface Packet {
  seq: number
  payload: Buffer
}

const HEADER = 4
const CLIENT_PROTOCOL_41 = 0x200
const CLIENT_SSL = 0x800
/** The fixed part of a HandshakeResponse41 and the whole of an SSLRequest: capabilities, max packet, charset, filler. */
const FIXED_RESPONSE_BYTES = 32

/** Frames `payload` as one packet with sequence id `seq`. */
export function framePacket(seq: number, payload: Buffer): Buffer {
  const header = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, (payload.length >> 16) & 0xff, seq & 0xff])
  return Buffer.concat([header, payload])
}

/**
 * A MySQL protocol error packet, as a server sends instead of its greeting or an OK:
 * 0xFF, the error number, '#', the SQLSTATE and the message.
 */
export function errorPacket(errno: number, sqlState: string, message: string, seq = 0): Buffer {
  const payload = Buffer.concat([Buffer.from([0xff, errno & 0xff, (errno >> 8) & 0xff]), Buffer.from(`#${sqlState}${message}`, 'utf8')])
  return framePacket(seq, payload)
}

/** Why a peer's packets are not read further: the gateway answers `errno` (or, for 0, just closes). */
export class HandshakeFailure extends Error {
  constructor(
    message: string,
    readonly errno = 0,
  ) {
    super(message)
  }
}

/**
 * Reads whole packets from a socket during the handshake, at most `maxPayload` bytes each: a peer
 * that announces more is refused at once, without waiting for (or buffering) the rest.
 */
export class PacketReader {
  private buffered: Buffer = Buffer.alloc(0)
  private waiter: (() => void) | undefined
  private failure: Error | undefined
  private readonly onData = (chunk: Buffer) => {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk])
    this.wake()
  }
  private readonly onEnd = () => this.fail(new HandshakeFailure('the peer closed the connection mid-handshake'))
  private readonly onError = (error: Error) => this.fail(error)

  constructor(
    private readonly socket: Duplex,
    private readonly maxPayload: number,
  ) {
    socket.on('data', this.onData)
    socket.once('end', this.onEnd)
    socket.once('close', this.onEnd)
    socket.once('error', this.onError)
  }

  /** The next packet; rejects when the peer closes, fails, or announces a packet over the bound. */
  async next(): Promise<Packet> {
    for (;;) {
      if (this.buffered.length >= HEADER) {
        const length = this.buffered.readUIntLE(0, 3)
        if (length > this.maxPayload) throw new HandshakeFailure(`a packet of ${length} bytes during the handshake`, BAD_HANDSHAKE)
        if (this.buffered.length >= HEADER + length) {
          const packet = {seq: this.buffered[3]!, payload: this.buffered.subarray(HEADER, HEADER + length)}
          this.buffered = this.buffered.subarray(HEADER + length)
          return packet
        }
      }
      if (this.failure) throw this.failure
      await new Promise<void>((resolve) => (this.waiter = resolve))
    }
  }

  /** Stops reading: the socket is paused and left to its next owner with what was read but not yet taken. */
  detach(): Buffer {
    this.socket.pause()
    this.socket.off('data', this.onData)
    this.socket.off('end', this.onEnd)
    this.socket.off('close', this.onEnd)
    this.socket.off('error', this.onError)
    const rest = this.buffered
    this.buffered = Buffer.alloc(0)
    return rest
  }

  private fail(error: Error): void {
    this.failure ??= error
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.()
  }
}

/** MariaDB's answer to a handshake it cannot parse: ER_HANDSHAKE_ERROR, "Bad handshake". */
export const BAD_HANDSHAKE = 1043

/** The client's first packet: an SSLRequest (it turns to TLS next) or a whole login in plain text. */
export function clientHello(packet: Packet): 'ssl-request' | 'plain-login' {
  const {payload} = packet
  if (packet.seq !== 1 || payload.length < FIXED_RESPONSE_BYTES) throw new HandshakeFailure('not a handshake response', BAD_HANDSHAKE)
  const capabilities = payload.readUInt32LE(0)
  // Pre-4.1 clients send another layout, which MariaDB 10.x no longer accepts either.
  if ((capabilities & CLIENT_PROTOCOL_41) === 0) throw new HandshakeFailure('a pre-4.1 handshake response', BAD_HANDSHAKE)
  if (capabilities & CLIENT_SSL && payload.length === FIXED_RESPONSE_BYTES) return 'ssl-request'
  return 'plain-login'
}

/** Whether a server's greeting (HandshakeV10) offers TLS. */
export function greetingOffersTls(greeting: Packet): boolean {
  const {payload} = greeting
  if (payload[0] !== 10) return false
  const versionEnd = payload.indexOf(0, 1)
  // After the version: thread id (4), nonce part 1 (8), a filler byte, then the low capability bytes.
  const capabilitiesAt = versionEnd + 1 + 4 + 8 + 1
  if (versionEnd < 0 || payload.length < capabilitiesAt + 2) return false
  return (payload.readUInt16LE(capabilitiesAt) & CLIENT_SSL) !== 0
}

/**
 * The user name of a HandshakeResponse41 and the response with another one in its place. Everything
 * after the name (auth data, database, plugin, connection attributes) is kept byte for byte: the
 * mysql_native_password and ed25519 scrambles hash the password and the greeting's nonce, never the
 * user name, so they stay valid for the renamed login.
 */
export function loginUser(payload: Buffer): {user: Buffer; withUser(user: Buffer): Buffer} {
  if (payload.length <= FIXED_RESPONSE_BYTES) throw new HandshakeFailure('a handshake response without a user name', BAD_HANDSHAKE)
  const end = payload.indexOf(0, FIXED_RESPONSE_BYTES)
  if (end < 0) throw new HandshakeFailure('a user name without its terminating NUL', BAD_HANDSHAKE)
  return {
    user: payload.subarray(FIXED_RESPONSE_BYTES, end),
    withUser: (user) => Buffer.concat([payload.subarray(0, FIXED_RESPONSE_BYTES), user, payload.subarray(end)]),
  }
}
