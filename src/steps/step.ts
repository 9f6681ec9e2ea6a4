import type {Connection} from 'mariadb'
import type {ProfileStore} from '../state/profile-store.js'
import type {RunOptions} from '../state/run-options.js'
import type {Settings, StepRecords} from '../state/schema.js'
import type {StepOutputs} from '../state/step-outputs.js'
import type {ReplicaTarget} from '../targets/target.js'
import type {ServerAddress} from '../lib/mariadb.js'
import type {PlannedAction} from '../lib/planned-action.js'
import type {SetupEvent} from './setup-events.js'

export type {PlannedAction}

/** Persisted in checkpoints: never rename one. */
export type StepId = 'preflight' | 'binlog' | 'replication-user' | 'firewall' | 'snapshot' | 'link' | 'replicate'

/** What a step returns and the checkpoint keeps: typed by step id (state/step-outputs.ts). */
export type StepOutput<K extends StepId = StepId> = StepOutputs[K]

/** The outputs of the steps done, by step id. */
export type DoneOutputs = {[K in StepId]?: StepOutputs[K]}

/** What step `K` sees. Connections open lazily and are shared by the steps of one run. */
export interface StepContext<K extends StepId = StepId> {
  profile: string
  settings: Settings
  /** This run's dangerous choices (never in `settings`). */
  run: RunOptions
  store: ProfileStore
  /** Outputs of the steps already done in this or earlier runs, by step id. */
  outputs: DoneOutputs
  /**
   * This step's record from an earlier run: one that did not finish (running when datain was killed,
   * failed or interrupted), with whatever it recorded through `progress`, or, for a step that runs
   * on every start (`alwaysRun`), its last finished run. Undefined on a first run.
   */
  previous?: StepRecords[K]
  /** Records partial output as it happens, so that a crash in the middle leaves what a rerun needs. */
  progress(output: Partial<StepOutputs[K]>): Promise<void>
  source(): Promise<Connection>
  /** Throws GatewayRefusedError while the replica's firewall refuses this machine. */
  replica(): Promise<Connection>
  /** Where the servers are and how to log in: for child processes (through a private options file). */
  sourceAddress: ServerAddress
  replicaAddress: ServerAddress
  /** The replica side: its replication controls, server parameters and network path. */
  target: ReplicaTarget
  /** The replication user's password: from DATAIN_REPLICATION_PASSWORD, the profile's secrets, or generated. */
  replicationPassword(): Promise<string>
  /** Aborted on Ctrl-C / SIGTERM: pass it to every child process and long wait. */
  signal: AbortSignal
  ui: StepUi
  /**
   * Workers of the snapshot's copy (`datain start --parallel N`): undefined, as many as this
   * machine and both servers allow; 1, the single stream of mariadb-dump into mariadb.
   */
  parallel?: number
}

/** Progress for people, on stderr; silent under --json. */
export interface StepUi {
  info(message: string): void
  /** A line that replaces itself on a terminal (bytes copied, lag...). */
  status(message: string): void
  /** A warning: for people a line like `info`; `start --json` streams it as a `warning` event. Absent: `info`. */
  warn?(message: string): void
  /** `start --json`: one event of the run for scripts (setup-events.ts); absent for people. */
  event?(event: SetupEvent): void
}

/**
 * A setup step. `run` is safe to run twice: it first looks at the world (SHOW GRANTS, the firewall
 * rule by name, SHOW SLAVE STATUS...) and does only what is missing, so that a run killed at any
 * moment and started again finishes the work without doing anything twice. What later steps need
 * goes in its output, which the checkpoint keeps.
 */
export interface Step<K extends StepId = StepId> {
  id: K
  title: string
  /** What the step does, in a line, for people watching `datain start`. */
  describe: string
  /** Run again on every `datain start` even when done: checks that must see the servers as they are now. */
  alwaysRun?: boolean
  plan(ctx: StepContext<K>): Promise<PlannedAction[]>
  run(ctx: StepContext<K>): Promise<StepOutputs[K]>
}
