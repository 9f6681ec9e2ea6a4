import type {Connection} from 'mariadb'
import type {ReplicaTarget} from '../target.js'
import {noNetworkPath} from './network.js'
import {mariadbParameters} from './parameters.js'
import {mariadbReplication, type MariadbLinkOptions} from './replication.js'

/** A MariaDB server the DBA administers: a VM in any cloud, on-premises, a container. Nothing emulated, no ARM. */
export function mariadbTarget(replica: () => Promise<Connection>, options: MariadbLinkOptions): ReplicaTarget {
  return {
    kind: 'mariadb',
    label: 'MariaDB server',
    replication: mariadbReplication(options),
    parameters: mariadbParameters(replica),
    network: noNetworkPath,
    armServer: async () => undefined,
  }
}
