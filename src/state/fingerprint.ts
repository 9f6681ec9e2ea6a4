import {createHash} from 'node:crypto'
import type {Settings} from './schema.js'

/**
 * What identifies the servers and the copy of a setup: a resume against other servers, or with
 * other databases or another mode, must not reuse a checkpoint made for these. No secret goes in.
 */
export function setupFingerprint(settings: Settings): string {
  const identity = {
    source: [settings.source.host, settings.source.port],
    replica: [settings.replica.host, settings.replica.port],
    azure: [settings.azure.subscription ?? '', settings.azure.resourceGroup ?? '', settings.azure.server ?? ''],
    databases: [...settings.databases].sort(),
    gtid: settings.gtid,
    replicationUser: settings.replicationUser,
    // Only when not the default, so that the profiles of an older datain keep their fingerprint.
    ...(settings.target === 'azure-mariadb' ? {} : {target: settings.target}),
  }
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16)
}
