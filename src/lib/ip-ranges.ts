import {lookup} from 'node:dns/promises'
import {isIP} from 'node:net'

/** What an IPv4 address is, for a firewall rule: reachable from anywhere, on a local network, or never a host. */
export type Ipv4Kind = 'public' | 'private' | 'loopback' | 'special'

export interface Ipv4Class {
  kind: Ipv4Kind
  /** The IANA special-purpose block it falls in (`10.0.0.0/8 (private)`); absent for a public address. */
  block?: string
}

/**
 * IANA's IPv4 special-purpose registry (RFC 6890 and its updates), plus multicast and the class E
 * space. An Azure firewall rule naming one of the `special` blocks is at best useless and at worst
 * dangerous: a rule for 0.0.0.0 is read by Azure as "allow every Azure service", whoever's it is.
 */
const BLOCKS: ReadonlyArray<{cidr: string; name: string; kind: Exclude<Ipv4Kind, 'public'>}> = [
  {cidr: '0.0.0.0/8', name: '"this network"', kind: 'special'},
  {cidr: '10.0.0.0/8', name: 'private', kind: 'private'},
  {cidr: '100.64.0.0/10', name: 'shared address space (carrier-grade NAT)', kind: 'private'},
  {cidr: '127.0.0.0/8', name: 'loopback', kind: 'loopback'},
  {cidr: '169.254.0.0/16', name: 'link-local', kind: 'special'},
  {cidr: '172.16.0.0/12', name: 'private', kind: 'private'},
  {cidr: '192.0.0.0/24', name: 'IETF protocol assignments', kind: 'special'},
  {cidr: '192.0.2.0/24', name: 'documentation (TEST-NET-1)', kind: 'special'},
  {cidr: '192.88.99.0/24', name: '6to4 relay anycast', kind: 'special'},
  {cidr: '192.168.0.0/16', name: 'private', kind: 'private'},
  {cidr: '198.18.0.0/15', name: 'benchmarking', kind: 'special'},
  {cidr: '198.51.100.0/24', name: 'documentation (TEST-NET-2)', kind: 'special'},
  {cidr: '203.0.113.0/24', name: 'documentation (TEST-NET-3)', kind: 'special'},
  {cidr: '224.0.0.0/4', name: 'multicast', kind: 'special'},
  {cidr: '240.0.0.0/4', name: 'reserved (and broadcast)', kind: 'special'},
]

/** The special-purpose blocks as `[first, last]` numbers, for tests that generate addresses in each. */
export const SPECIAL_PURPOSE_BLOCKS = BLOCKS.map((b) => ({...b, ...cidrBounds(b.cidr)}))

/** Strict dotted-quad IPv4 to a number (no leading zeros, which some parsers read as octal); NaN otherwise. */
export function ipv4Number(ip: string): number {
  if (isIP(ip) !== 4) return Number.NaN
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0)
}

export function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.')
}

function cidrBounds(cidr: string): {first: number; last: number} {
  const [base, bits] = cidr.split('/') as [string, string]
  const size = 2 ** (32 - Number(bits))
  const first = ipv4Number(base)
  return {first, last: first + size - 1}
}

/** The kind of a valid IPv4 address; undefined for anything else. */
export function classifyIpv4(ip: string): Ipv4Class | undefined {
  const n = ipv4Number(ip)
  if (Number.isNaN(n)) return undefined
  const block = SPECIAL_PURPOSE_BLOCKS.find((b) => b.first <= n && n <= b.last)
  return block ? {kind: block.kind, block: `${block.cidr} (${block.name})`} : {kind: 'public'}
}

/**
 * Why datain must not open the replica's firewall to `ip`, or undefined when it may: a public unicast
 * address always; a loopback or private one only when the replica itself sits on such a network
 * (the sandbox, a private endpoint), since then nothing outside could be let in by it.
 */
export function firewallAddressProblem(ip: string, replicaLocal: boolean): string | undefined {
  const kind = classifyIpv4(ip)
  // The text may come from whoever sits before TLS: quoted and cut, so that no control character reaches a terminal.
  if (!kind) return `${quoteUntrusted(ip)} is not one IPv4 address (a firewall rule for datain names one address, not a range or a name)`
  if (kind.kind === 'public') return undefined
  if (kind.kind !== 'special' && replicaLocal) return undefined
  const why =
    kind.kind === 'special'
      ? 'which no machine connects from'
      : "and the replica's own address is public, so a rule for it would let in whoever the replica's network routes from there"
  return `${ip} is in ${kind.block}, ${why}${ipv4Number(ip) === 0 ? ' (Azure reads a rule for 0.0.0.0 as "allow all Azure services")' : ''}`
}

/** Untrusted text for a message: quoted, cut to 64 characters, every control character (C0, DEL, C1) escaped. */
export function quoteUntrusted(text: string): string {
  return JSON.stringify(text.slice(0, 64)).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Whether `host` is, or resolves only to, loopback or private IPv4 addresses. A name that does not resolve is not local. */
export async function isLocalHost(host: string): Promise<boolean> {
  let addresses: string[]
  if (isIP(host)) addresses = [host]
  else {
    try {
      addresses = (await lookup(host, {all: true})).map((a) => a.address)
    } catch {
      return false
    }
  }
  const local = (a: string) => a === '::1' || ['loopback', 'private'].includes(classifyIpv4(a.replace(/^::ffff:/, ''))?.kind ?? '')
  return addresses.length > 0 && addresses.every(local)
}
