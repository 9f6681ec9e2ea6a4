import path from 'node:path'
import type {AzureTarget} from '../azure/arm.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import type {Settings, SettingsInput} from '../state/schema.js'
import {isLocalHost} from '../lib/ip-ranges.js'
import {requireValue} from '../lib/ask.js'
import {badInput, controlsShown, hasControlCharacter, parseCaFile, parseDatabases, parseHost, parseFirewallIp, parsePort, parseReplicationUserName, parseUserName, shown} from '../lib/validate.js'

/** The connection flags of `datain init`, as oclif parsed them (env fallbacks applied). */
export interface InitFlags {
  'source-host'?: string
  'source-port'?: string
  'source-user'?: string
  'source-public-host'?: string
  'source-ip'?: string
  'source-ssl-ca'?: string
  /** `on` (default): TLS verified against --source-ssl-ca or the system's CAs; `off`: plain text, warned about. */
  'source-ssl'?: string
  'replica-ssl'?: string
  target?: string
  'link-ssl-ca'?: string
  'replica-host'?: string
  'replica-port'?: string
  'replica-user'?: string
  'replica-ssl-ca'?: string
  'replica-ssl-verify': boolean
  'client-ip'?: string
  subscription?: string
  'resource-group'?: string
  server?: string
  'arm-endpoint'?: string
  arm: boolean
  firewall: boolean
  databases?: string
  gtid: boolean
  'replication-user': string
  'unfiltered-subset': boolean
}

/** Where settings come from beyond the flags. */
export interface SettingsSources {
  /** The replica server's host name as ARM describes it (`fullyQualifiedDomainName`); undefined when ARM gives none. */
  armHost?(target: AzureTarget): Promise<string | undefined>
}

/** Validates every flag and asks (on a terminal) for what is missing; bad input is exit 2 naming the flag. */
export async function settingsFromFlags(flags: InitFlags, createdAt: string, sources: SettingsSources = {}): Promise<SettingsInput> {
  const target = parseTarget(flags)
  // A replica the DBA administers has no ARM, no firewall datain manages, no Azure flag.
  const useArm = target === 'azure-mariadb' && flags.arm
  const subscription = useArm ? await requireValue(flags.subscription, '--subscription', 'DATAIN_SUBSCRIPTION', 'Azure subscription id of the replica') : flags.subscription
  const resourceGroup = useArm
    ? await requireValue(flags['resource-group'], '--resource-group', 'DATAIN_RESOURCE_GROUP', "Resource group of the replica's server")
    : flags['resource-group']
  const server = useArm ? await requireValue(flags.server, '--server', 'DATAIN_SERVER', "Replica's server name in Azure") : flags.server
  if (server !== undefined && !/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(server)) {
    throw badInput('--server', `${shown(server)} is not an Azure Database for MariaDB server name (3 to 63 lower-case letters, digits and hyphens). Give the name, not the host name.`)
  }

  const armEndpoint = flags['arm-endpoint'] ? parseArmEndpoint(flags['arm-endpoint']) : undefined
  const sourceHost = parseHost('--source-host', await requireValue(flags['source-host'], '--source-host', 'DATAIN_SOURCE_HOST', 'Source MariaDB host'))
  const replicaHostDefault =
    flags['replica-host'] === undefined && useArm && subscription && resourceGroup && server
      ? await armReplicaHost(sources, {subscription, resourceGroup, server, endpoint: armEndpoint ?? process.env.DATAIN_ARM_ENDPOINT})
      : server
        ? `${server}.mariadb.database.azure.com`
        : undefined
  const replicaHost = parseHost(
    '--replica-host',
    await requireValue(flags['replica-host'] ?? replicaHostDefault, '--replica-host', 'DATAIN_REPLICA_HOST', 'Replica host'),
  )

  // Only resolved when an address is given: the firewall takes private ones only for a replica on a private network.
  const replicaLocal = flags['source-ip'] || flags['client-ip'] ? await isLocalHost(replicaHost) : false
  const ssl = parseSsl('--source-ssl', flags['source-ssl'] ?? 'on')
  if (ssl === 'off' && flags['source-ssl-ca']) {
    throw badInput('--source-ssl', "'off' contradicts --source-ssl-ca: the CA is only used over TLS. Leave out one of them.")
  }
  const replicaSsl = parseSsl('--replica-ssl', flags['replica-ssl'] ?? 'on')
  if (replicaSsl === 'off' && flags['replica-ssl-ca']) {
    throw badInput('--replica-ssl', "'off' contradicts --replica-ssl-ca: the CA is only used over TLS. Leave out one of them.")
  }

  return {
    createdAt,
    source: {
      host: sourceHost,
      port: parsePort('--source-port', flags['source-port'] ?? '3306'),
      user: parseUserName('--source-user', await requireValue(flags['source-user'], '--source-user', 'DATAIN_SOURCE_USER', 'Source user (an administrator account)')),
      publicHost: flags['source-public-host'] ? parseHost('--source-public-host', flags['source-public-host']) : sourceHost,
      ip: flags['source-ip'] ? parseFirewallIp('--source-ip', flags['source-ip'], replicaLocal) : undefined,
      ssl,
      sslCa: flags['source-ssl-ca'] ? path.resolve(parseCaFile('--source-ssl-ca', flags['source-ssl-ca'])) : undefined,
    },
    replica: {
      host: replicaHost,
      port: parsePort('--replica-port', flags['replica-port'] ?? '3306'),
      user: parseUserName('--replica-user', await requireValue(flags['replica-user'], '--replica-user', 'DATAIN_REPLICA_USER', 'Replica admin user (user@server on Azure)')),
      ssl: replicaSsl,
      sslCa: flags['replica-ssl-ca'] ? path.resolve(parseCaFile('--replica-ssl-ca', flags['replica-ssl-ca'])) : undefined,
      tlsVerify: flags['replica-ssl-verify'],
      linkSslCa: flags['link-ssl-ca'] === undefined ? undefined : parseLinkCa(flags['link-ssl-ca']),
    },
    azure: {
      subscription,
      resourceGroup,
      server,
      armEndpoint,
      useArm,
      manageFirewall: useArm && flags.firewall,
    },
    target,
    clientIp: flags['client-ip'] ? parseFirewallIp('--client-ip', flags['client-ip'], replicaLocal) : undefined,
    databases: flags.databases === undefined ? [] : parseDatabases('--databases', flags.databases),
    gtid: flags.gtid,
    replicationUser: parseReplicationUserName('--replication-user', flags['replication-user']),
    unfilteredSubset: flags['unfiltered-subset'],
  }
}

/**
 * The replica's host when --replica-host is not given: the server's own name from ARM, which is
 * right in every cloud (sovereign clouds have other domains), else the public cloud's form.
 */
async function armReplicaHost(sources: SettingsSources, target: AzureTarget): Promise<string> {
  const fqdn = await sources.armHost?.(target)
  if (fqdn === undefined || fqdn === '') return `${target.server}.mariadb.database.azure.com`
  try {
    return parseHost('--replica-host', fqdn)
  } catch (error) {
    // ARM's answer is data: a value that is no host name is refused, and said to come from ARM.
    throw new DatainError(
      `Azure Resource Manager gives the server '${target.server}' a host name datain cannot use (${JSON.stringify(fqdn.slice(0, 300))}). Give the replica's host with --replica-host.`,
      {code: 'E_ARM_HOST', exit: ExitCode.usage, cause: error},
    )
  }
}

/** `--target`, and the flags that mean nothing for it: bad input (exit 2) rather than ignored. */
function parseTarget(flags: InitFlags): SettingsInput['target'] {
  const target = (flags.target ?? 'azure-mariadb').trim().toLowerCase()
  if (target !== 'azure-mariadb' && target !== 'mariadb') {
    throw badInput('--target', `${shown(String(flags.target))} is not a target datain knows: azure-mariadb (Azure Database for MariaDB) or mariadb (a MariaDB server you administer).`)
  }
  if (target === 'mariadb') {
    const azure = (
      [
        ['--subscription', flags.subscription],
        ['--resource-group', flags['resource-group']],
        ['--server', flags.server],
        ['--arm-endpoint', flags['arm-endpoint']],
        ['--client-ip', flags['client-ip']],
        ['--source-ip', flags['source-ip']],
      ] as const
    ).filter(([, value]) => value !== undefined && value !== '')
    if (azure.length > 0) {
      const names = azure.map(([flag]) => flag).join(', ')
      throw badInput(
        '--target',
        `mariadb takes no Azure flag, and ${names} ${azure.length === 1 ? 'was' : 'were'} given (as a flag or in the environment): ` +
          'a MariaDB server you administer has no ARM, and datain opens no firewall for it. Leave them out (unset their DATAIN_* variables).',
      )
    }
  } else if (flags['link-ssl-ca'] !== undefined) {
    throw badInput('--link-ssl-ca', "only goes with --target mariadb: on Azure the replica is given the CA's text from --source-ssl-ca.")
  } else if (flags['replica-ssl'] !== undefined && flags['replica-ssl'].trim().toLowerCase() === 'off') {
    throw badInput('--replica-ssl', "off only goes with --target mariadb: Azure's gateway takes datain's logins over TLS only.")
  }
  return target
}

/** A path on the replica's host, which datain cannot see: only its form is checked. */
function parseLinkCa(value: string): string {
  if (!path.isAbsolute(value) || hasControlCharacter(value) || value.length > 511) {
    throw badInput(
      '--link-ssl-ca',
      `'${controlsShown(value)}' is not an absolute path of at most 511 characters without control characters. Give the path of the source's CA file on the replica's host, such as /etc/mysql/source-ca.pem.`,
    )
  }
  return value
}

function parseSsl(flag: '--source-ssl' | '--replica-ssl', value: string): 'on' | 'off' {
  const v = value.trim().toLowerCase()
  if (v === 'on' || v === 'off') return v
  const what = flag === '--source-ssl' ? 'the source' : 'the replica'
  throw badInput(
    flag,
    `'${controlsShown(value)}' is neither on nor off. datain connects to ${what} over TLS (on, the default); off sends everything it sends there in plain text.`,
  )
}

function parseArmEndpoint(value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw badInput('--arm-endpoint', `${shown(value)} is not a URL. Give the Azure Resource Manager endpoint, such as https://management.azure.com.`)
  }
  if (url.protocol !== 'https:') {
    throw badInput('--arm-endpoint', `${shown(value)} is not https: Azure's SDK sends its bearer token only over TLS.`)
  }
  return url.origin
}

/** What recording `next` over `previous` would change, one `field: old → new` line each. */
export function settingsChanges(previous: Settings, next: SettingsInput): string[] {
  const changes: string[] = []
  const walk = (before: unknown, after: unknown, at: string) => {
    if (isObject(before) || isObject(after)) {
      const b = isObject(before) ? before : {}
      const a = isObject(after) ? after : {}
      for (const key of new Set([...Object.keys(b), ...Object.keys(a)])) walk(b[key], a[key], at ? `${at}.${key}` : key)
      return
    }
    if (JSON.stringify(before) !== JSON.stringify(after)) changes.push(`${at}: ${show(before)} → ${show(after)}`)
  }
  const {version: _v, createdAt: _c, updatedAt: _u, ...rest} = previous
  const {createdAt: _c2, ...next2} = next
  walk(rest, next2, '')
  return changes
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v))
