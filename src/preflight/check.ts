import type {MariaDBManagementClient, Server} from '@azure/arm-mariadb'
import type {Connection} from 'mariadb'
import type {AzureTarget} from '../azure/arm.js'
import type {TargetKind} from '../targets/target.js'

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'not-run' | 'not-applicable'

/** One line of the preflight report: what was checked, how it went, why, and how to fix it. */
export interface CheckResult {
  id: string
  title: string
  status: CheckStatus
  /** Why it passed, warned or failed, in a sentence. */
  message: string
  /** What to do about a warn or fail. */
  fix?: string
  /** Every offender (tables without a primary key, accounts, ...), not only the first. */
  offenders?: string[]
}

/** What the settings say the checks are about; no secrets. */
export interface PreflightSettings {
  /** The replica's kind: some checks are about one target only. */
  target: TargetKind
  databases: string[]
  gtid: boolean
  replicationUser: string
  /** `init --unfiltered-subset`: a subset no replica filter protects is a warning, not a failure. */
  unfilteredSubset: boolean
  /** `start --replace-databases` on this run; false for `init`, which only reports what `start` needs. */
  replaceDatabases: boolean
  /** `start --take-over-replica` on this run: a replica linked elsewhere is a warning, not a failure. */
  takeOverReplica: boolean
  /** The source's port, as the replica's link names it. */
  sourcePort: number
  /** `--source-ssl`: whether datain's connection to the source is TLS (verified). */
  sourceSsl: 'on' | 'off'
  /** `--source-ssl-ca` was given: the replica can be handed the source's CA and replicate over TLS. */
  sourceCa: boolean
  /** `--replica-ssl` (--target mariadb): whether datain's connection to the replica is TLS. */
  replicaSsl: 'on' | 'off'
  /** `--no-replica-ssl-verify`: the replica's certificate is not checked. */
  replicaTlsVerify: boolean
  useArm: boolean
  manageFirewall: boolean
  /** Source host the replica will connect to (for the firewall rule and the link). */
  sourcePublicHost: string
}

/** What a resumed setup already did, so that its own work is not taken for a conflict. */
export interface OwnWork {
  /** Databases datain created on the replica (the snapshot step records them). */
  replicaDatabases: string[]
  /** True when datain created the replication user on the source. */
  replicationUserCreated: boolean
  /** Firewall rule names datain created. */
  firewallRules: string[]
}

export interface PreflightContext {
  settings: PreflightSettings
  source: Connection
  /** Absent when the replica could not be reached (see `replicaUnavailable`). */
  replica?: Connection
  /** Why the replica checks cannot run, e.g. the gateway refused this machine's IP. */
  replicaUnavailable?: string
  /** Absent with --no-arm. */
  arm?: {client: MariaDBManagementClient; target: AzureTarget; server: Server}
  own: OwnWork
  /** Databases the copy will take: the selection, or every non-system database of the source. */
  databases: string[]
  /** Answers the checks of one run share (see sharedAnswer); runChecks gives each run its own. */
  shared?: Map<string, Promise<unknown>>
}

/** A preflight check. `run` only reads: no check changes anything on any server or in Azure. */
export interface Check {
  id: string
  title: string
  /** The connections it needs; without them it is reported as not run. */
  needs: Array<'replica' | 'arm'>
  /** The targets it is about; for any other it is reported as not applicable. Default: every target. */
  targets?: TargetKind[]
  run(ctx: PreflightContext): Promise<Omit<CheckResult, 'id' | 'title'> | Array<CheckResult>>
}
