import type {Connection} from 'mariadb'
import type {FirewallContext} from '../azure/firewall-rules.js'
import type {ClientAccess} from '../azure/replica-access.js'
import type {ArmServer} from '../azure/arm.js'
import type {ParameterChange} from '../state/parameter-change.js'
import type {PlannedAction} from '../lib/planned-action.js'
import type {ReplicationMode} from '../state/schema.js'
import type {FirewallOutput, PreflightOutput} from '../state/step-outputs.js'

export type {FirewallOutput}

/**
 * The replica side of datain: what differs between a managed Azure replica and one the DBA
 * administers. Steps, status, stop and skip reach the replica's replication controls, its server
 * parameters and the network path to it only through this interface; each target is a folder of
 * src/targets/ (today azure-mariadb, where Azure's az_replication_* procedures and ARM live).
 */
export interface ReplicaTarget {
  readonly kind: TargetKind
  /** For people: "Azure Database for MariaDB". */
  readonly label: string
  readonly replication: ReplicationDriver
  readonly parameters: ParameterDriver
  readonly network: NetworkDriver
  /** What the preflight checks read of the replica beyond SQL: Azure's server through ARM; undefined without ARM. */
  armServer(): Promise<ArmServer | undefined>
}

export type TargetKind = 'azure-mariadb' | 'mariadb'

/** What a replication control does: point the replica at the source, start, stop, remove the link, skip one event group. */
export type ReplicationAction = 'link' | 'start' | 'stop' | 'remove' | 'skip'

/** Where the replica's link points and where it starts from. The password is given to `link` alone. */
export interface LinkSpec {
  host: string
  port: number
  user: string
  position: {mode: 'gtid'; gtid: string} | {mode: 'file'; file: string; position: number}
  /** The source speaks TLS: the link uses it. */
  sourceTls: boolean
  /** `--source-ssl-ca`: the source's CA as a file on this machine (Azure's procedure takes its PEM). */
  sourceCaFile?: string
  /** How plans and the journal show the CA: `<PEM of FILE>`, or '' without one. */
  caLabel: string
}

/** A link spec for a plan: the snapshot's coordinates may not be known yet. */
export type PlannedLinkSpec = Omit<LinkSpec, 'position' | 'sourceCaFile'> & {mode: ReplicationMode; position: Array<string | number>}

export interface ReplicationDriver {
  /**
   * The controls of this replica, checked to offer every one of `actions` (Azure: the procedures
   * exist, E_NO_PROCEDURES otherwise), so that a step fails before it changes anything.
   */
  open(replica: Connection, actions: readonly ReplicationAction[]): Promise<ReplicationControls>
  /**
   * The controls' texts for a plan, when the replica cannot be asked (its firewall still refuses
   * this machine): where an earlier run found them (`where`, from the link step's output), else the target's default.
   */
  planned(where?: string): ReplicationTexts
}

/** How the controls read to people: plans, the journal, messages and hints. */
export interface ReplicationTexts {
  /** Where the controls live, kept in the link step's output (Azure: the procedures' schema). */
  readonly where: string
  /** The short name of a control in a sentence: `mysql.az_replication_stop`. */
  name(action: ReplicationAction): string
  /** The statement as it runs, secrets masked: `CALL `mysql`.`az_replication_start`()`. */
  statement(action: Exclude<ReplicationAction, 'link'>): string
  /** The control as a person would type it: `CALL mysql.az_replication_skip_counter`, `SET GLOBAL sql_slave_skip_counter = 1; START SLAVE`. */
  command(action: Exclude<ReplicationAction, 'link'>): string
  /** How the link keeps its password out of the statement text and the logs, for the plan. */
  readonly linkSecrecy: string
  /** The link statement, the password `***`. */
  linkStatement(spec: PlannedLinkSpec): string
}

export interface ReplicationControls extends ReplicationTexts {
  /** Refuses (a typed error that says what to change) when a link's password could reach a log of the replica. */
  assertPasswordStaysSecret(): Promise<void>
  /** Points the replica at the source. The password never reaches the statement text, the process list or a log. */
  link(spec: LinkSpec, password: string): Promise<void>
  start(): Promise<void>
  stop(): Promise<void>
  remove(): Promise<void>
  skip(): Promise<void>
}

/** What a parameter call needs beyond the target: the replica (for --no-arm checks) and the abort signal. */
export interface ParameterCall {
  replica(): Promise<Connection>
  signal?: AbortSignal
  /** Where a target says what a person should know (a my.cnf line to keep a SET GLOBAL). */
  ui?: {info(message: string): void}
}

export interface ParameterDriver {
  /** Makes the replica's server parameter `name` equal `value`, or says how to set it by hand. */
  ensure(call: ParameterCall, name: string, value: string, why?: string): Promise<ParameterChange>
  /** Puts back what `ensure` changed, if the parameter still has datain's value. */
  restore(call: ParameterCall, change: ParameterChange): Promise<boolean>
  /** The parameter's value now; null when the target cannot say (--no-arm). */
  current(name: string): Promise<string | null>
  /** The planned change, for `--dry-run`. */
  plan(name: string, value: string, why: string): PlannedAction
}

/** What the network path needs of a step's context (StepContext has it all). */
export type NetworkContext = Omit<FirewallContext, 'arm'>

export interface NetworkDriver {
  /** The firewall step's plan, for `--dry-run`. */
  plan(ctx: NetworkContext): Promise<PlannedAction[]>
  /** The firewall step: lets the source and this machine through to the replica. */
  open(ctx: NetworkContext): Promise<FirewallOutput>
  /** Before the replica's checks: lets this machine in when the replica refuses it. */
  letClientIn(ctx: NetworkContext): Promise<ClientAccess>
  /** `stop --cleanup`: removes what `open` and `letClientIn` made, as the firewall and preflight steps recorded it. */
  close(ctx: RuleCleanupContext, recorded: {firewall: Partial<FirewallOutput>; preflight: Partial<PreflightOutput>}): Promise<RuleCleanup>
}

export type RuleCleanupContext = Pick<NetworkContext, 'profile' | 'ui' | 'store'>

/** What `--cleanup` did with datain's firewall rules. */
export interface RuleCleanup {
  /** Rules datain created and deleted now. */
  deleted: string[]
  /** Rules datain created that no longer exist. */
  absent: string[]
  /** Rules datain created but could not delete (no ARM): delete them by hand. */
  left: string[]
  /** Rules of datain's name whose range is not one datain gave them: someone changed them since; left. */
  changed: Array<{name: string; startIpAddress: string; endIpAddress: string}>
}
