/**
 * Samples and step lists as the servers and the checkpoint give them, for the pure parts of
 * `datain status` (no server needed).
 */
import {hintControls} from '../../src/replication/hints.js'
import {azureReplication} from '../../src/targets/azure-mariadb/replication.js'
import type {LiveSample, ReplicaSide, Reading, SourceSide} from '../../src/status/live.js'
import {parseReplicaStatus} from '../../src/replication/slave-status.js'
import {SETUP_STEPS} from '../../src/steps/index.js'
import type {StepStatus} from '../../src/status/status-report.js'
import type {ViewOptions} from '../../src/status/replica-health.js'

/** A SHOW SLAVE STATUS row of a healthy replica linked to 203.0.113.5:3306 as datain_repl. */
export function slaveRow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Slave_IO_State: 'Waiting for master to send event',
    Master_Host: '203.0.113.5',
    Master_User: 'datain_repl',
    Master_Port: 3306,
    Master_Log_File: 'mariadb-bin.000004',
    Read_Master_Log_Pos: 2000,
    Relay_Master_Log_File: 'mariadb-bin.000004',
    Relay_Log_File: 'mariadb-relay-bin.000002',
    Slave_IO_Running: 'Yes',
    Slave_SQL_Running: 'Yes',
    Exec_Master_Log_Pos: 2000,
    Master_SSL_Allowed: 'Yes',
    Seconds_Behind_Master: 0,
    Last_IO_Errno: 0,
    Last_IO_Error: '',
    Last_SQL_Errno: 0,
    Last_SQL_Error: '',
    Master_Server_Id: 1,
    Using_Gtid: 'Slave_Pos',
    Gtid_IO_Pos: '0-1-50',
    Slave_SQL_Running_State: 'Slave has read all relay log; waiting for more updates',
    Connect_Retry: 60,
    ...overrides,
  }
}

export const VIEW_OPTIONS: ViewOptions = {
  mode: 'gtid',
  source: {host: 'db1.example.com', port: 3306, publicHost: '203.0.113.5', replicationUser: 'datain_repl'},
  replica: {host: 'replica.mariadb.database.azure.com', port: 3306},
  hint: {controls: hintControls(azureReplication({gtid: true}).planned('mysql')), profile: 'default'},
}

export interface SampleSpec {
  at?: number
  /** The source's end of binlog and, optionally, its `Uptime`. */
  source?: SourceSide | 'unreachable'
  /** SHOW SLAVE STATUS overrides; `null`: no row (not linked); 'unreachable': the replica does not answer. */
  slave?: Record<string, unknown> | null | 'unreachable'
  gtidSlavePos?: string
}

export function sample(spec: SampleSpec = {}): LiveSample {
  const source: Reading<SourceSide> =
    spec.source === 'unreachable'
      ? {ok: false, unreachable: true, error: {code: 'E_SOURCE_UNREACHABLE', message: 'Nothing accepts connections at the source at db1.example.com:3306 (connection refused).'}}
      : {ok: true, value: spec.source ?? {file: 'mariadb-bin.000004', position: 2000, gtid: '0-1-50'}}
  const replica: Reading<ReplicaSide> =
    spec.slave === 'unreachable'
      ? {ok: false, unreachable: true, error: {code: 'E_REPLICA_CONNECT', message: 'Could not connect to the replica at replica:3306: socket closed.'}}
      : {ok: true, value: {status: spec.slave === null ? undefined : parseReplicaStatus(slaveRow(spec.slave ?? {})), gtidSlavePos: spec.gtidSlavePos ?? '0-1-50'}}
  return {at: spec.at ?? 1_000_000, source, replica}
}

const TITLES = SETUP_STEPS.map((step) => [step.id, step.title] as const)

/** The seven steps, the first `done` of them done, then `next` (if given) in that state, the rest not started. */
export function steps(done: number, next?: Partial<StepStatus>): StepStatus[] {
  return TITLES.map(([id, title], i) => {
    const base: StepStatus = {id, title, state: 'not-started', startedAt: null, finishedAt: null, seconds: null, summary: null, details: {}, error: null, progress: null}
    if (i < done) return {...base, state: 'done', startedAt: '2025-03-01T10:00:00.000Z', finishedAt: '2025-03-01T10:00:01.000Z', seconds: 1}
    if (i === done && next) return {...base, startedAt: '2025-03-01T10:00:02.000Z', ...next}
    return base
  })
}
