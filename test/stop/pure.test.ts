import {describe, expect, it} from 'vitest'
import type {Checkpoint} from '../../src/state/schema.js'
import {DatainError} from '../../src/lib/errors.js'
import {describePosition} from '../../src/replication/link-state.js'
import {renderStop} from '../../src/ui/stop.js'
import type {StopResult} from '../../src/stop/run-stop.js'
import {describeTransaction, maskPasswords} from '../../src/skip/run-skip.js'
import {azureReplication} from '../../src/targets/azure-mariadb/replication.js'
import {assertLinkNotRemoved, removedRecord} from '../../src/state/stop-records.js'

/** The parts of stop and skip that need no server: masking, messages, the removed record, rendering. */

const at = '2026-01-02T03:04:05.000Z'

function checkpointWith(steps: Checkpoint['steps'], stop: Checkpoint['stop'] = {}): Checkpoint {
  return {version: 2, fingerprint: 'abc', updatedAt: at, steps, stop}
}

describe('maskPasswords', () => {
  it('masks passwords in the statements that carry one, and nothing else', () => {
    expect(maskPasswords("CREATE USER 'r'@'%' IDENTIFIED BY 'S3cr''et'")).toBe("CREATE USER 'r'@'%' IDENTIFIED BY '***'")
    expect(maskPasswords("ALTER USER r IDENTIFIED BY PASSWORD '*ABCDEF' REQUIRE SSL")).toBe("ALTER USER r IDENTIFIED BY PASSWORD '***' REQUIRE SSL")
    expect(maskPasswords("CREATE USER x IDENTIFIED VIA mysql_native_password USING PASSWORD('pw')")).toBe(
      "CREATE USER x IDENTIFIED VIA mysql_native_password USING PASSWORD('***')",
    )
    expect(maskPasswords("SET PASSWORD FOR a = PASSWORD('pw')")).toBe("SET PASSWORD FOR a = PASSWORD('***')")
    expect(maskPasswords("CHANGE MASTER TO MASTER_PASSWORD='pw', MASTER_HOST='h'")).toBe("CHANGE MASTER TO MASTER_PASSWORD='***', MASTER_HOST='h'")
    expect(maskPasswords("INSERT INTO t VALUES ('IDENTIFIED')")).toBe("INSERT INTO t VALUES ('IDENTIFIED')")
    expect(maskPasswords('x'.repeat(3000))).toHaveLength(2001)
  })
})

describe('the removed record', () => {
  it('lets datain start refuse a finished setup with exit 2, saying why and what to do', () => {
    expect(() => assertLinkNotRemoved(checkpointWith({link: {state: 'done', startedAt: at}}), 'default')).not.toThrow()
    const removed = checkpointWith({}, {removed: {state: 'done', startedAt: at, finishedAt: at, output: {removedAt: at, via: 'cutover', linked: true, position: null}}})
    expect(removedRecord(removed)?.output.via).toBe('cutover')
    let error: DatainError | undefined
    try {
      assertLinkNotRemoved(removed, 'prod')
    } catch (e) {
      error = e as DatainError
    }
    expect(error?.exitCode).toBe(2)
    expect(error?.code).toBe('E_LINK_REMOVED')
    expect(error?.message).toMatch(/cut over to the replica at 2026-01-02/)
    expect(error?.suggestions).toEqual(['datain stop --profile prod --cleanup', 'datain init --profile NEW …', 'datain start --profile NEW'])
    // A record that is not done does not count.
    expect(removedRecord(checkpointWith({}, {removed: {state: 'failed', startedAt: at}}))).toBeUndefined()
  })
})

describe('what people read', () => {
  it('describes positions, the transaction to skip, and the stop', () => {
    expect(describePosition({mode: 'gtid', gtid: '0-1-5', file: 'binlog.000002', position: 400})).toBe('GTID 0-1-5 (binlog.000002:400)')
    expect(describePosition({mode: 'file', gtid: '', file: 'binlog.000002', position: 400})).toBe('binlog.000002:400')

    const text = describeTransaction(
      {
        errno: 1062,
        error: "Duplicate entry '7' for key 'PRIMARY'",
        gtid: '0-1-9',
        sourceFile: 'binlog.000001',
        sourcePosition: 1234,
        gtidSlavePos: '0-1-8',
        gtidIoPos: '0-1-9',
        events: [
          {type: 'Gtid', info: 'BEGIN GTID 0-1-9'},
          {type: 'Write_rows_v1', info: 'table_id: 29 flags: STMT_END_F'},
        ],
      },
      azureReplication({gtid: true}).planned('mysql'),
      'default',
    )
    expect(text).toMatch(/error 1062: Duplicate entry/)
    expect(text).toMatch(/GTID 0-1-9, at binlog.000001:1234/)
    expect(text).toMatch(/applied up to 0-1-8, received up to 0-1-9/)
    expect(text).toMatch(/Write_rows_v1 +table_id: 29/)
    expect(text).toMatch(/missing there for good/)

    const stopped: StopResult = {
      profile: 'eu',
      action: 'stop',
      mode: 'gtid',
      link: 'stopped',
      stoppedNow: true,
      removedNow: false,
      position: {mode: 'gtid', gtid: '0-1-5', file: 'b.000001', position: 9},
      cutover: null,
      cleanup: null,
      sourceReadOnly: null,
    }
    expect(renderStop(stopped)).toBe("Replication of profile 'eu' stopped at GTID 0-1-5 (b.000001:9). The link stays in place: 'datain start --profile eu' starts it again.")
    expect(renderStop({...stopped, action: 'remove', link: 'removed', removedNow: true})).toMatch(/link removed: the replica stands alone\.\nRemove the replication user.*--profile eu --cleanup/)
  })
})
