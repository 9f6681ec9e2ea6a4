import type {TokenCredential} from '@azure/core-auth'
import type {Connection} from 'mariadb'
import type {AzureTarget} from '../azure/arm.js'
import type {Settings} from '../state/schema.js'
import {mariadbTarget} from './mariadb/index.js'
import type {ReplicaTarget} from './target.js'

export type {ReplicaTarget} from './target.js'

export interface TargetOptions {
  /** The session's replica connection (opened on first use). */
  replica(): Promise<Connection>
  /** How to sign in to ARM; default DATAIN_ARM_TOKEN, else DefaultAzureCredential. */
  credential?: TokenCredential
}

/**
 * The replica side a profile's settings describe. The Azure target, and with it the Azure SDK, is
 * loaded only for a profile that has it: the SDK took 0.3 s of every command's start-up
 * (`verify`, `status`, `stop` on any target), measured with the built CLI.
 */
export async function openTarget(settings: Settings, options: TargetOptions): Promise<ReplicaTarget> {
  if (settings.target === 'mariadb') return mariadbTarget(options.replica, {linkSslCa: settings.replica.linkSslCa})
  const [{azureMariadbTarget}, {armClient}] = await Promise.all([import('./azure-mariadb/index.js'), import('../azure/arm.js')])
  const azure = azureTarget(settings)
  return azureMariadbTarget(settings, azure ? {client: armClient(azure, options.credential), target: azure} : undefined)
}

/** The Azure server a profile's settings name for ARM; undefined with --no-arm. */
export function azureTarget(settings: Settings): AzureTarget | undefined {
  const {useArm, subscription, resourceGroup, server, armEndpoint} = settings.azure
  if (!useArm || !subscription || !resourceGroup || !server) return undefined
  return {subscription, resourceGroup, server, endpoint: armEndpoint ?? process.env.DATAIN_ARM_ENDPOINT}
}
