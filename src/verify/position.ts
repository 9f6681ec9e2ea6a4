import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../lib/errors.js'
import {readReplicaStatus, type ReplicationMode, type ReplicaStatus} from '../replication/slave-status.js'

/** A point in the source's binlog: what the replica must have executed for a read to be comparable. */
export interface SourcePoint {
  file: string
  position: number
  /** `BINLOG_GTID_POS(file, position)`; only read in GTID mode. */
  gtid?: string
}

/**
 * Runs `read` in a consistent snapshot of the source and returns it with the binlog point of that
 * very snapshot (`binlog_snapshot_file/position`, which InnoDB and the binlog agree on), so that a
 * replica that has executed up to this point holds exactly what `read` saw, plus later writes.
 */
export async function atSourcePoint<T>(source: Connection, mode: ReplicationMode, read: () => Promise<T>): Promise<{value: T; point: SourcePoint}> {
  await source.query('START TRANSACTION WITH CONSISTENT SNAPSHOT')
  try {
    const rows = (await source.query("SHOW SESSION STATUS WHERE Variable_name IN ('binlog_snapshot_file', 'binlog_snapshot_position')")) as Array<{
      Variable_name: string
      Value: string
    }>
    const value = (name: string) => rows.find((r) => r.Variable_name.toLowerCase() === name)?.Value ?? ''
    const point: SourcePoint = {file: value('binlog_snapshot_file'), position: Number(value('binlog_snapshot_position'))}
    if (!point.file || !Number.isSafeInteger(point.position)) {
      throw new DatainError('The source reports no binary log position for its snapshot: binary logging is off, so there is no replication to verify.', {
        code: 'E_VERIFY_NO_BINLOG',
        exit: ExitCode.broken,
      })
    }
    if (mode === 'gtid') {
      const [row] = (await source.query('SELECT BINLOG_GTID_POS(?, ?) AS gtid', [point.file, point.position])) as Array<{gtid: string | null}>
      point.gtid = row?.gtid ?? ''
    }
    return {value: await read(), point}
  } finally {
    await source.query('COMMIT')
  }
}

/**
 * Waits until the replica's SQL thread has executed `point` (MASTER_GTID_WAIT, or MASTER_POS_WAIT
 * in file mode: neither needs a privilege the Azure admin lacks). Replication that stopped meanwhile
 * is exit 3; a replica still behind after `timeoutSeconds` is exit 5: either way nothing it holds
 * can be compared with the source.
 */
export async function waitForReplica(replica: Connection, mode: ReplicationMode, point: SourcePoint, timeoutSeconds: number): Promise<void> {
  const [row] = (
    mode === 'gtid'
      ? await replica.query('SELECT MASTER_GTID_WAIT(?, ?) AS r', [point.gtid ?? '', timeoutSeconds])
      : await replica.query('SELECT MASTER_POS_WAIT(?, ?, ?) AS r', [point.file, point.position, timeoutSeconds])
  ) as Array<{r: number | null}>
  if (row?.r !== null && row?.r !== undefined && Number(row.r) >= 0) return
  await requireReplicating(replica)
  throw new DatainError(
    `The replica did not reach the source's position ${point.gtid || `${point.file}:${point.position}`} within ${timeoutSeconds} seconds, so a chunk that ` +
      "differed could not be checked again. Run 'datain status' to see the lag, and run 'datain verify' again when the replica has caught up (or give it longer with --wait-timeout).",
    {code: 'E_VERIFY_LAG', exit: ExitCode.lagging},
  )
}

/** Exit 3 unless both replication threads run without error: a replica that does not replicate cannot be compared while the source takes writes. */
export async function requireReplicating(replica: Connection): Promise<ReplicaStatus> {
  const status = await readReplicaStatus(replica)
  if (!status) {
    throw new DatainError('The replica has no replication link, so there is nothing to verify against a source that takes writes.', {
      code: 'E_VERIFY_NOT_LINKED',
      exit: ExitCode.broken,
      suggestions: ["Run 'datain status' to see where the setup stands, and 'datain start' to finish it."],
    })
  }
  if (status.ioThread !== 'running' || !status.sqlRunning) {
    const errors = [status.lastSqlErrno ? `SQL thread error ${status.lastSqlErrno}` : '', status.lastIoErrno ? `IO thread error ${status.lastIoErrno}` : '']
      .filter(Boolean)
      .join(', ')
    throw new DatainError(
      `Replication is not running on the replica (IO thread ${status.ioThread}, SQL thread ${status.sqlRunning ? 'running' : 'stopped'}${errors ? `; ${errors}` : ''}), ` +
        'so nothing was compared: the replica cannot catch up with the source to be checked against it.',
      {
        code: 'E_VERIFY_BROKEN',
        exit: ExitCode.broken,
        // Both threads stopped without an error: stopped on purpose (datain stop), not broken.
        suggestions: [
          !errors && status.ioThread === 'stopped' && !status.sqlRunning
            ? "Run 'datain start' to start replication again, then 'datain verify'."
            : "Run 'datain status' for the error and what to do.",
        ],
      },
    )
  }
  return status
}
