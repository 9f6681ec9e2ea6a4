import type {Connection} from 'mariadb'
import type {Settings} from '../state/schema.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import type {ReplicationControls} from '../targets/target.js'
import {linkedTo, type ReplicaStatus, type ReplicationMode, readGtidSlavePos, readReplicaStatus} from './slave-status.js'
import type {ReplicaPosition} from '../state/stop-records.js'

/** How the replica stands toward this profile's source. */
export type LinkState =
  | {kind: 'none'}
  | {kind: 'other'; status: ReplicaStatus}
  | {kind: 'linked'; status: ReplicaStatus}

/** SHOW SLAVE STATUS, read against the profile: no link, a link to this source (host, port, user), or another's. */
export async function inspectLink(replica: Connection, settings: Settings): Promise<LinkState> {
  const status = await readReplicaStatus(replica)
  if (!status) return {kind: 'none'}
  const here = linkedTo(status, {host: settings.source.publicHost, port: settings.source.port, user: settings.replicationUser})
  return here ? {kind: 'linked', status} : {kind: 'other', status}
}

/** A replica thread runs (the IO thread also while it retries a connection). */
export function threadsStarted(status: ReplicaStatus): boolean {
  return status.ioThread !== 'stopped' || status.sqlRunning
}

/** The replica's applied position, from its status and `@@gtid_slave_pos`. */
export async function replicaPosition(replica: Connection, status: ReplicaStatus, mode: ReplicationMode): Promise<ReplicaPosition> {
  return {mode, gtid: await readGtidSlavePos(replica), file: status.relayMasterLogFile, position: status.execMasterLogPos}
}

/**
 * Stops the replica's threads (Azure: `az_replication_stop`) and checks that both threads are off; returns the status after. The
 * procedure (STOP SLAVE) returns once the threads have stopped, the SQL thread between two
 * transactions, so the applied position read after it is final.
 */
export async function stopThreads(replica: Connection, controls: ReplicationControls): Promise<ReplicaStatus> {
  await controls.stop()
  const status = await readReplicaStatus(replica)
  if (status && threadsStarted(status)) {
    throw new DatainError(
      `${controls.name('stop')} returned, but the replica's threads still run (IO ${status.ioThread}, SQL ${status.sqlRunning ? 'running' : 'stopped'}). ` +
        'Run the command again; if it persists, look at the replica with SHOW SLAVE STATUS.',
      {code: 'E_STOP_FAILED', exit: ExitCode.failed},
    )
  }
  if (!status) {
    throw new DatainError('The replica\'s replication link disappeared while datain stopped it: something else removed it at the same time. Look at the replica, then run the command again.', {
      code: 'E_LINK_GONE',
      exit: ExitCode.failed,
    })
  }
  return status
}

/**
 * Removes the link (Azure: `az_replication_remove_master`) and checks that none is left: no SHOW
 * SLAVE STATUS row, or only the one RESET SLAVE leaves (readReplicaStatus reads that as no link).
 */
export async function removeLink(replica: Connection, controls: ReplicationControls): Promise<void> {
  await controls.remove()
  if (await readReplicaStatus(replica)) {
    throw new DatainError(
      `${controls.name('remove')} returned, but the replica still shows a replication source (SHOW SLAVE STATUS is not empty). Run the command again.`,
      {code: 'E_REMOVE_FAILED', exit: ExitCode.failed},
    )
  }
}

/** One line for people: `GTID 0-1-42 (binlog.000003:1234)`. */
export function describePosition(position: Pick<ReplicaPosition, 'mode' | 'gtid' | 'file' | 'position'>): string {
  const coordinates = position.file ? `${position.file}:${position.position}` : ''
  if (position.mode === 'gtid' && position.gtid) return `GTID ${position.gtid}${coordinates ? ` (${coordinates})` : ''}`
  return coordinates || 'unknown'
}
