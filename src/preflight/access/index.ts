import type {Check} from '../check.js'
import {accounts} from './accounts.js'
import {binlogRetention} from './binlog-retention.js'
import {definers} from './definers.js'
import {firewallRules} from './firewall-rules.js'
import {replicationUser} from './replication-user.js'
import {routinesNeedTrust} from './routines-need-trust.js'
import {sourcePrivileges} from './source-privileges.js'
import {syncInfoParameters} from './sync-info-parameters.js'
import {timeZones} from './time-zones.js'

/** Does datain hold what the steps need, and what will not carry over: privileges, retention, definers, accounts, names. */
export const accessChecks: Check[] = [
  sourcePrivileges,
  binlogRetention,
  definers,
  routinesNeedTrust,
  syncInfoParameters,
  timeZones,
  accounts,
  replicationUser,
  firewallRules,
]
