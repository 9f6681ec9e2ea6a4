import {readArmServer, type ArmAccess} from '../../azure/arm.js'
import type {Settings} from '../../state/schema.js'
import type {ReplicaTarget} from '../target.js'
import {azureNetwork} from './network.js'
import {azureParameters} from './parameters.js'
import {azureReplication} from './replication.js'

/** An Azure Database for MariaDB replica: Azure's procedures, and ARM unless --no-arm. */
export function azureMariadbTarget(settings: Settings, arm: ArmAccess | undefined): ReplicaTarget {
  return {
    kind: 'azure-mariadb',
    label: 'Azure Database for MariaDB',
    replication: azureReplication({gtid: settings.gtid}),
    parameters: azureParameters(settings, arm),
    network: azureNetwork(arm),
    armServer: async () => (arm ? readArmServer(arm) : undefined),
  }
}
