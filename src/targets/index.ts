import type {ArmAccess} from '../azure/arm.js'
import type {Settings} from '../state/schema.js'
import {azureMariadbTarget} from './azure-mariadb/index.js'
import type {ReplicaTarget} from './target.js'

export type {ReplicaTarget} from './target.js'

/** The replica side a profile's settings describe. */
export function openTarget(settings: Settings, arm: ArmAccess | undefined): ReplicaTarget {
  return azureMariadbTarget(settings, arm)
}
