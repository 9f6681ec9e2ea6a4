import net from 'node:net'

/**
 * A hostile source for tests: a MariaDB-protocol TCP proxy on loopback in front of a real server
 * that changes what the server says. It clears CLIENT_SSL in the server's greeting (so that the
 * client stays in plain text and the proxy can read and rewrite packets), and replaces the row of
 * the answer to any query that `rewrite` picks with rows of its own.
 */
export interface ProxyOptions {
  upstream: {host: string; port: number}
  /** Called for each COM_QUERY: the rows (each a list of column values) to answer instead, or undefined to pass it through. */
  rewrite: (sql: string) => string[][] | undefined
}

export interface MariaDbProxy {
  host: string
  port: number
  /** Queries whose answer was replaced. */
  readonly rewritten: string[]
  /** From now on the server's bytes are read and dropped: connections stay open and never answer (a half-open link). */
  silence(): void
  close(): Promise<void>
}

const CLIENT_SSL = 0x800
const CLIENT_DEPRECATE_EOF = 1 << 24
const COM_QUERY = 0x03

export async function startMariaDbProxy(options: ProxyOptions): Promise<MariaDbProxy> {
  const sockets = new Set<net.Socket>()
  const rewritten: string[] = []
  let silent = false
  const server = net.createServer((client) => {
    const upstream = net.connect(options.upstream.port, options.upstream.host)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    const session = new Session(options, rewritten)
    const fromServer = new PacketReader((packet) => {
      for (const out of session.fromServer(packet)) client.write(out)
    })
    const fromClient = new PacketReader((packet) => {
      upstream.write(session.fromClient(packet))
    })
    upstream.on('data', (chunk: Buffer) => {
      if (!silent) fromServer.add(chunk)
    })
    client.on('data', (chunk: Buffer) => fromClient.add(chunk))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const {port} = server.address() as net.AddressInfo
  return {
    host: '127.0.0.1',
    port,
    rewritten,
    silence() {
      silent = true
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** One client's conversation: where the server's answer stands, and whether to replace it. */
class Session {
  private greeted = false
  private deprecateEof = false
  /** The answer being replaced: how far into its result set the server is. */
  private replacing?: {rows: string[][]; columns?: number; seen: number; eofs: number}

  constructor(
    private readonly options: ProxyOptions,
    private readonly rewritten: string[],
  ) {}

  fromClient(packet: Buffer): Buffer {
    const payload = packet.subarray(4)
    if (packet[3] === 1 && !this.deprecateEof && payload.length >= 4) {
      // The handshake response: what the client and server agreed on for the end of result sets.
      this.deprecateEof = (payload.readUInt32LE(0) & CLIENT_DEPRECATE_EOF) !== 0
    }
    if (packet[3] === 0 && payload[0] === COM_QUERY) {
      const sql = payload.subarray(1).toString('utf8')
      const rows = this.options.rewrite(sql)
      if (rows) {
        this.rewritten.push(sql)
        this.replacing = {rows, seen: 0, eofs: 0}
      }
    }
    return packet
  }

  fromServer(packet: Buffer): Buffer[] {
    if (!this.greeted) {
      this.greeted = true
      return [withoutSsl(packet)]
    }
    const r = this.replacing
    if (!r) return [packet]
    const payload = packet.subarray(4)
    if (r.columns === undefined) {
      if (payload[0] === 0x00 || payload[0] === 0xff) {
        this.replacing = undefined
        return [packet]
      }
      r.columns = payload[0]!
      return [packet]
    }
    if (r.seen < r.columns) {
      r.seen++
      return [packet]
    }
    const isEnd = payload[0] === 0xfe && payload.length < 0xffffff
    if (!this.deprecateEof && r.eofs === 0 && isEnd) {
      r.eofs++
      return [packet]
    }
    if (payload[0] === 0xff) {
      this.replacing = undefined
      return [packet]
    }
    if (!isEnd) return []
    // The server's rows were dropped; ours go out before its end packet, numbered from where its rows began:
    // column count (1), the columns, one EOF unless deprecated.
    this.replacing = undefined
    const ours = r.rows.map((row) => packetOf(Buffer.concat(row.map(lengthEncodedString))))
    return renumber([...ours, packet], 2 + r.columns + (this.deprecateEof ? 0 : 1))
  }
}

function renumber(packets: Buffer[], from: number): Buffer[] {
  return packets.map((p, i) => {
    const copy = Buffer.from(p)
    copy[3] = (from + i) & 0xff
    return copy
  })
}

function withoutSsl(packet: Buffer): Buffer {
  const copy = Buffer.from(packet)
  // Protocol 10 greeting: version, NUL, thread id (4), scramble (8), filler (1), then the lower capability flags.
  const versionEnd = copy.indexOf(0, 5)
  const flags = versionEnd + 1 + 4 + 8 + 1
  copy.writeUInt16LE(copy.readUInt16LE(flags) & ~CLIENT_SSL, flags)
  return copy
}

function packetOf(payload: Buffer): Buffer {
  const header = Buffer.alloc(4)
  header.writeUIntLE(payload.length, 0, 3)
  return Buffer.concat([header, payload])
}

function lengthEncodedString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8')
  let prefix: Buffer
  if (bytes.length < 251) prefix = Buffer.from([bytes.length])
  else if (bytes.length < 0x10000) prefix = Buffer.from([0xfc, bytes.length & 0xff, bytes.length >> 8])
  else {
    prefix = Buffer.alloc(4)
    prefix[0] = 0xfd
    prefix.writeUIntLE(bytes.length, 1, 3)
  }
  return Buffer.concat([prefix, bytes])
}

/** Cuts a byte stream into whole packets (header included). */
class PacketReader {
  private buffer = Buffer.alloc(0)

  constructor(private readonly onPacket: (packet: Buffer) => void) {}

  add(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk])
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUIntLE(0, 3)
      if (this.buffer.length < 4 + length) return
      const packet = this.buffer.subarray(0, 4 + length)
      this.buffer = this.buffer.subarray(4 + length)
      this.onPacket(packet)
    }
  }
}
