import {readFileSync, statSync} from 'node:fs'
import {isIP} from 'node:net'
import {DatainError, ExitCode} from './errors.js'
import {firewallAddressProblem} from './ip-ranges.js'

/** Bad input: exit 2, one paragraph naming the flag, what is wrong, and what would be right. */
export function badInput(flag: string, message: string): DatainError {
  return new DatainError(`${flag}: ${message}`, {code: 'E_BAD_INPUT', exit: ExitCode.usage})
}

/** Most of a value a message quotes: enough to recognise it, not a wall of text for a huge one. */
const SHOWN_LENGTH = 80

/**
 * A value from a flag or the environment, quoted for a one-paragraph message: a line break or another
 * control character shown escaped (`\n`), and past {@link SHOWN_LENGTH} characters cut, saying how long it was.
 */
export function shown(value: string): string {
  const chars = [...value]
  const cut = chars.length > SHOWN_LENGTH ? chars.slice(0, SHOWN_LENGTH) : chars
  const text = cut.map((c) => (isControl(c) ? escapeControl(c) : c)).join('')
  return chars.length > SHOWN_LENGTH ? `'${text}…' (${chars.length} characters)` : `'${text}'`
}

function escapeControl(c: string): string {
  const named: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}
  return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`
}

const HOST = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/

export function parseHost(flag: string, value: string): string {
  const host = value.trim()
  if (isIP(host)) return host
  if (!HOST.test(host) || host.includes('..')) {
    throw badInput(flag, `${shown(value)} is not a host name or an IP address. Give a name such as db.example.com or an address such as 203.0.113.10.`)
  }
  return host
}

export function parsePort(flag: string, value: string | number): number {
  const text = String(value).trim()
  const port = Number(text)
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw badInput(flag, `${shown(String(value))} is not a TCP port. Give a whole number from 1 to 65535 (MariaDB listens on 3306 by default).`)
  }
  return port
}

export function parseIpv4(flag: string, value: string): string {
  const ip = value.trim()
  if (isIP(ip) !== 4) {
    throw badInput(flag, `${shown(value)} is not an IPv4 address (one address: no range, no name). Azure firewall rules take addresses such as 20.50.1.10.`)
  }
  return ip
}

/**
 * An address datain puts in the replica's firewall (`--client-ip`, `--source-ip`): one IPv4 address,
 * public unless the replica itself is on a loopback or private network (see firewallAddressProblem).
 */
export function parseFirewallIp(flag: string, value: string, replicaLocal: boolean): string {
  const ip = parseIpv4(flag, value)
  const problem = firewallAddressProblem(ip, replicaLocal)
  if (problem) {
    throw badInput(
      flag,
      `${problem}. datain opens the replica's firewall only to one public unicast IPv4 address (or a loopback or private one when the replica's own address is too). Give the address as the replica sees it, such as 20.50.1.10.`,
    )
  }
  return ip
}

/** `--databases a,b`: names as MariaDB allows them (quotes, spaces, unicode), none empty or too long. */
export function parseDatabases(flag: string, value: string): string[] {
  const names = value.split(',').map((name) => name.trim())
  if (value.trim() === '' || names.some((name) => name === '')) {
    throw badInput(flag, `${shown(value)} holds an empty database name. Give a comma-separated list such as shop,crm, or leave the flag out to copy every database.`)
  }
  for (const name of names) {
    if ([...name].length > 64) throw badInput(flag, `the database name ${shown(name)} is longer than MariaDB's 64 characters.`)
  }
  const system = names.filter((name) => SYSTEM_DATABASES.has(name.toLowerCase()))
  if (system.length > 0) {
    throw badInput(flag, `${system.join(', ')} ${system.length > 1 ? 'are system databases' : 'is a system database'}, which Data-in Replication does not copy. Leave ${system.length > 1 ? 'them' : 'it'} out.`)
  }
  return [...new Set(names)]
}

export const SYSTEM_DATABASES = new Set(['mysql', 'information_schema', 'performance_schema', 'sys'])

export function parseUserName(flag: string, value: string): string {
  if (value.length === 0 || [...value].length > 80) {
    throw badInput(flag, `${shown(value)} is not a MariaDB user name: give 1 to 80 characters.`)
  }
  return value
}

/**
 * The replication user's name: the replica's IO thread cannot log in to the source as a user whose
 * name is not ASCII (error 1045, seen on 10.11), so such a name would only fail at the last step.
 */
export function parseReplicationUserName(flag: string, value: string): string {
  parseUserName(flag, value)
  if (!/^[\x20-\x7e]+$/.test(value)) {
    throw badInput(
      flag,
      `${shown(value)} holds characters outside printable ASCII: MariaDB's replication thread cannot log in to the source as such a user (error 1045). Use ASCII letters, digits and punctuation.`,
    )
  }
  return value
}

/** The most a CA file may hold: the system's whole bundle is about 220 kB. */
const MAX_CA_BYTES = 4 * 1024 * 1024

/** A CA bundle file: it must exist and hold at least one PEM certificate. Returns its absolute path. */
export function parseCaFile(flag: string, file: string): string {
  readCaFile(flag, file)
  return file
}

/**
 * The text of a CA bundle file, checked as parseCaFile checks it: read again by every command, the
 * path a profile recorded may have become a FIFO or a device since `init`.
 */
export function readCaFile(flag: string, file: string): string {
  let text: string
  try {
    // Looked at before it is read: a FIFO would block datain for good, /dev/zero fill its memory.
    const info = statSync(file)
    if (!info.isFile()) throw badInput(flag, `${shown(file)} is not a regular file. Give the path of the CA certificate, a PEM file.`)
    if (info.size > MAX_CA_BYTES) {
      throw badInput(flag, `${shown(file)} holds ${info.size} bytes, more than a CA bundle (at most ${MAX_CA_BYTES}). Give the path of the CA certificate, a PEM file.`)
    }
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if (error instanceof DatainError) throw error
    throw badInput(flag, `cannot read ${shown(file)} (${(error as NodeJS.ErrnoException).code ?? error}). Give the path of the CA certificate, a PEM file.`)
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw badInput(flag, `${shown(file)} holds no PEM certificate (no '-----BEGIN CERTIFICATE-----' line). Give the CA certificate in PEM form.`)
  }
  return text
}

const isControl = (c: string) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f

/** Whether the text holds a C0 control character or DEL (a newline, an escape sequence…). */
export function hasControlCharacter(value: string): boolean {
  return [...value].some(isControl)
}

/** The text for a one-line message: every C0 control character and DEL shown as `?`. */
export function controlsShown(value: string): string {
  return [...value].map((c) => (isControl(c) ? '?' : c)).join('')
}
