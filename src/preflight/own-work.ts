import type {OwnWork} from './check.js'
import type {Checkpoint} from '../state/schema.js'

/**
 * What earlier runs of this profile created, read from the checkpoint's step outputs, so that a
 * resumed setup does not report its own partial copy, user or rules as conflicts.
 */
export function ownWork({steps}: Checkpoint): OwnWork {
  const user = steps['replication-user']?.output
  return {
    replicaDatabases: steps.snapshot?.output?.createdDatabases ?? [],
    // `creating` is recorded just before CREATE USER: a crash right after it leaves an account that is datain's.
    replicationUserCreated: user?.created === true || user?.creating === true,
    // The preflight step adds the client's rule when the gateway refuses datain before the firewall step.
    firewallRules: [...new Set([...(steps.firewall?.output?.createdRules ?? []), ...(steps.preflight?.output?.createdRules ?? [])])],
  }
}
