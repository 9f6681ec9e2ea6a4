import type {OwnWork} from './check.js'
import type {Checkpoint} from '../state/schema.js'

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [])

/**
 * What earlier runs of this profile created, read from the checkpoint's step outputs, so that a
 * resumed setup does not report its own partial copy, user or rules as conflicts.
 */
export function ownWork(checkpoint: Checkpoint): OwnWork {
  const output = (step: string) => checkpoint.steps[step]?.output ?? {}
  return {
    replicaDatabases: strings(output('snapshot').createdDatabases),
    // `creating` is recorded just before CREATE USER: a crash right after it leaves an account that is datain's.
    replicationUserCreated: output('replication-user').created === true || output('replication-user').creating === true,
    // The preflight step adds the client's rule when the gateway refuses datain before the firewall step.
    firewallRules: [...new Set([...strings(output('firewall').createdRules), ...strings(output('preflight').createdRules)])],
  }
}
