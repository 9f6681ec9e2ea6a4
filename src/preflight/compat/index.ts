import {replicaPrivilegesCheck} from './replica-privileges.js'
import type {Check} from '../check.js'
import {binlogCheck} from './binlog.js'
import {databaseFilterCheck} from './database-filter.js'
import {databasesExistCheck} from './databases-exist.js'
import {innodbTablesCheck} from './innodb-tables.js'
import {lowerCaseTableNamesCheck} from './lower-case-table-names.js'
import {primaryKeysCheck} from './primary-keys.js'
import {proceduresCheck} from './procedures.js'
import {replicaEmptyCheck} from './replica-empty.js'
import {replicaLinkCheck} from './replica-link.js'
import {sameVersionCheck} from './same-version.js'
import {sourceVersionCheck} from './source-version.js'
import {tierCheck} from './tier.js'
import {tlsCheck} from './tls.js'

export {findReplicationProcedures, REPLICATION_PROCEDURES, requiredProcedures} from '../../targets/azure-mariadb/procedures.js'
export {replicationFilter, wildIgnoreTableValue, uncopiedDatabases, FILTER_PARAMETER, type ReplicationFilter} from './database-filter.js'
export {quoteIdentifier} from '../../lib/sql.js'

/**
 * Can this source replicate into this replica at all: versions, engines, keys, binlog, names, tier, procedures.
 * `binlog` reports as `log-bin`, `binlog-format`, `server-id` (+ `server-id-distinct` when the
 * replica cannot be reached) and `gtid`.
 */
export const compatibilityChecks: Check[] = [
  tlsCheck,
  sourceVersionCheck,
  sameVersionCheck,
  databasesExistCheck,
  innodbTablesCheck,
  primaryKeysCheck,
  binlogCheck,
  lowerCaseTableNamesCheck,
  replicaEmptyCheck,
  replicaLinkCheck,
  databaseFilterCheck,
  tierCheck,
  proceduresCheck,
  replicaPrivilegesCheck,
]
