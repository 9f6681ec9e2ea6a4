import {readFileSync} from 'node:fs'
import type {Sandbox} from '../../sandbox/sandbox.js'
import type {OwnWork, PreflightSettings} from '../../src/preflight/check.js'
import {type OpenPreflight, openPreflight} from '../../src/preflight/context.js'

export const DEFAULT_SETTINGS: PreflightSettings = {
  target: 'azure-mariadb',
  databases: [],
  gtid: true,
  replicationUser: 'datain_repl',
  unfilteredSubset: false,
  replaceDatabases: false,
  takeOverReplica: false,
  sourcePort: 3306,
  replicaSsl: 'on',
  sourceSsl: 'on',
  sourceCa: true,
  replicaTlsVerify: true,
  useArm: true,
  manageFirewall: true,
  sourcePublicHost: '127.0.0.1',
}

/** Lets this machine through the sandbox's gateway, as a firewall rule made by someone else would. */
export function allowLoopback(sandbox: Sandbox, name = 'test-loopback'): void {
  sandbox.azure.state.firewallRules.set(name, {name, startIpAddress: '127.0.0.1', endIpAddress: '127.0.0.1'})
}

export function blockLoopback(sandbox: Sandbox, name = 'test-loopback'): void {
  sandbox.azure.state.firewallRules.delete(name)
}

/** The preflight context datain would open against this sandbox, with the sandbox's real credentials. */
export async function openSandboxPreflight(
  sandbox: Sandbox,
  options: {settings?: Partial<PreflightSettings>; noArm?: boolean; own?: OwnWork} = {},
): Promise<OpenPreflight> {
  const settings = {...DEFAULT_SETTINGS, ...options.settings}
  const token = sandbox.azure.token
  return openPreflight({
    settings,
    source: {
      host: sandbox.source.host,
      port: sandbox.source.port,
      user: sandbox.source.user,
      password: sandbox.source.password,
      tls: settings.sourceSsl === 'on' ? {ca: readFileSync(sandbox.source.sslCa, 'utf8'), verify: true} : undefined,
    },
    replica: {
      host: sandbox.replica.host,
      port: sandbox.replica.port,
      user: sandbox.replica.user,
      password: sandbox.replica.password,
      tls: {ca: readFileSync(sandbox.replica.sslCa, 'utf8'), verify: true},
    },
    azure: options.noArm
      ? undefined
      : {
          subscription: sandbox.azure.subscriptionId,
          resourceGroup: sandbox.azure.resourceGroup,
          server: sandbox.replica.serverName,
          endpoint: sandbox.azure.arm.url,
        },
    credential: {getToken: async () => ({token, expiresOnTimestamp: Date.now() + 3_600_000})},
    own: options.own,
  })
}
