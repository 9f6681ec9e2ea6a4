import type {TokenCredential} from '@azure/core-auth'
import {armClient, readArmServer, type AzureTarget} from '../azure/arm.js'
import {firewallAddressProblem, isLocalHost} from '../lib/ip-ranges.js'
import {connectTo, GatewayRefusedError, type ServerAddress} from '../lib/mariadb.js'
import {SYSTEM_DATABASES} from '../lib/validate.js'
import type {OwnWork, PreflightContext, PreflightSettings} from './check.js'

export interface PreflightInput {
  settings: PreflightSettings
  source: ServerAddress
  replica: ServerAddress
  /** Absent with --no-arm. */
  azure?: AzureTarget
  credential?: TokenCredential
  own?: OwnWork
  /** `--client-ip`: the address a firewall rule would be for, instead of the one the gateway names. */
  clientIp?: string
}

export interface OpenPreflight extends PreflightContext {
  /** The address a firewall rule would let in when Azure's gateway refused datain: --client-ip, or the one the gateway named. */
  refusedClientIp?: string
  /** Set instead when that address is not one datain opens the firewall to (see firewallAddressProblem). */
  untrustedClientIp?: {ip: string; problem: string}
  close(): Promise<void>
}

export const NO_OWN_WORK: OwnWork = {replicaDatabases: [], replicationUserCreated: false, firewallRules: []}

/**
 * Connects to the source, the replica and ARM for the checks. A source that cannot be reached, or
 * ARM refusing datain, ends preflight (exit 4 or 2); a replica whose gateway refuses this machine
 * does not: its checks are then reported as not run.
 */
export async function openPreflight(input: PreflightInput): Promise<OpenPreflight> {
  const arm = input.azure ? await readArmServer({client: armClient(input.azure, input.credential), target: input.azure}) : undefined
  const source = await connectTo('source', input.source)
  let replica: PreflightContext['replica']
  let replicaUnavailable: string | undefined
  let refusedClientIp: string | undefined
  let untrustedClientIp: OpenPreflight['untrustedClientIp']
  try {
    replica = await connectTo('replica', input.replica)
  } catch (error) {
    if (!(error instanceof GatewayRefusedError)) {
      await source.end()
      throw error
    }
    const ip = input.clientIp ?? error.clientIp
    const problem = firewallAddressProblem(ip, await isLocalHost(input.replica.host))
    if (problem) {
      untrustedClientIp = {ip, problem}
      replicaUnavailable =
        `needs the replica, whose gateway refuses this machine and ${input.clientIp ? 'the --client-ip given' : 'named an address that'} datain will not open the firewall to ` +
        `(${problem}); give this machine's public IPv4 address with --client-ip`
    } else {
      refusedClientIp = ip
      replicaUnavailable = `needs the replica, whose firewall does not let this machine (${ip}) in yet`
    }
  }

  const databases = input.settings.databases.length > 0 ? input.settings.databases : await userDatabases(source)
  return {
    settings: input.settings,
    source,
    replica,
    replicaUnavailable,
    refusedClientIp,
    untrustedClientIp,
    arm,
    own: input.own ?? NO_OWN_WORK,
    databases,
    async close() {
      await Promise.allSettled([source.end(), replica?.end()])
    },
  }
}


/** Every database of the source but the system ones, sorted. */
export async function userDatabases(source: PreflightContext['source']): Promise<string[]> {
  const rows: Array<{name: string}> = await source.query('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME')
  return rows.map((r) => r.name).filter((name) => !SYSTEM_DATABASES.has(name.toLowerCase()))
}
