import {lookup} from 'node:dns/promises'
import {isIP} from 'node:net'
import type {Settings} from '../state/schema.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {firewallAddressProblem, isLocalHost} from '../lib/ip-ranges.js'
import type {GatewayRefusedError} from '../lib/mariadb.js'
import type {FirewallContext} from './firewall-rules.js'

/**
 * The source's IPv4 address for its firewall rule: `--source-ip`, else the public host itself when it
 * is an address, else what it resolves to (Azure's firewall takes IPv4 ranges only). E_SOURCE_IP (exit 2).
 */
export async function resolveSourceIp(settings: Settings): Promise<string> {
  const ip = await sourceIpv4(settings)
  const problem = firewallAddressProblem(ip, await isLocalHost(settings.replica.host))
  if (problem) {
    throw sourceIpError(
      `The source's address for the replica's firewall is unusable: ${problem}. datain opens the firewall only to one public unicast IPv4 address ` +
        `(or a loopback or private one when the replica's own address is too). Give the source's public IPv4 address with 'datain init --force --source-ip A.B.C.D'.`,
    )
  }
  return ip
}

const sourceIpError = (message: string, cause?: unknown) =>
  new DatainError(message, {code: 'E_SOURCE_IP', exit: ExitCode.usage, suggestions: ['datain init --force --source-ip A.B.C.D'], cause})

async function sourceIpv4(settings: Settings): Promise<string> {
  const fail = sourceIpError
  const given = settings.source.ip
  if (given !== undefined) {
    if (isIP(given) === 4) return given
    throw fail(`The source's IP '${given}' (--source-ip) is not an IPv4 address, and the replica's firewall takes IPv4 addresses only.`)
  }
  const host = settings.source.publicHost
  if (isIP(host) === 4) return host
  if (isIP(host) === 6) {
    throw fail(`The source's public host ${host} is an IPv6 address, and the replica's firewall takes IPv4 addresses only: give the source's IPv4 address with --source-ip.`)
  }
  try {
    return (await lookup(host, {family: 4})).address
  } catch (error) {
    throw fail(
      `The source's public host ${host} does not resolve to an IPv4 address (${(error as NodeJS.ErrnoException).code ?? error}), ` +
        "so datain cannot name it in the replica's firewall: give it with --source-ip.",
      error,
    )
  }
}

/**
 * The address datain may open the replica's firewall to: `--client-ip`, else the one the gateway
 * named in error 9000. That text arrives before TLS, so whoever sits on the path can write it: it is
 * taken only when it is a public unicast IPv4 address, or a loopback/private one while the replica's
 * own address is loopback/private too (never 0.0.0.0, which Azure reads as "allow all Azure services").
 */
export async function trustedClientIp(ctx: Pick<FirewallContext, 'settings' | 'profile'>, refusal: GatewayRefusedError): Promise<string> {
  const given = ctx.settings.clientIp
  const ip = given ?? refusal.clientIp
  const problem = firewallAddressProblem(ip, await isLocalHost(ctx.settings.replica.host))
  if (!problem) return ip
  const fix = `datain init --profile ${ctx.profile} --force --client-ip A.B.C.D`
  throw new DatainError(
    given
      ? `The profile's --client-ip is not an address datain opens the replica's firewall to: ${problem}. Give this machine's public IPv4 address (${fix}).`
      : `Azure's gateway refuses this machine (error 9000) and named an address datain will not open the replica's firewall to: ${problem}. ` +
          `The gateway's text arrives before TLS, so datain trusts it only for a public unicast address. Give this machine's public IPv4 address ` +
          `as the replica sees it with --client-ip (${fix}), or add the firewall rule yourself.`,
    {code: 'E_CLIENT_IP_UNTRUSTED', exit: ExitCode.unreachable, suggestions: [fix], cause: refusal},
  )
}
