import {describe, expect, it} from 'vitest'
import {coordinateDistance, eta, gtidAdvance, lagSeconds, rates, replicationView} from '../../src/status/replica-health.js'
import {sample, VIEW_OPTIONS} from './fixture.js'

describe('the lag, from positions', () => {
  it('is none when the replica executed everything the source wrote', () => {
    const view = replicationView(sample(), undefined, VIEW_OPTIONS)
    expect(view.behind).toBe(false)
    expect(view.report.caughtUp).toBe(true)
    expect(view.report.lag).toEqual({transactions: 0, bytes: 0, files: 0, seconds: 0})
    expect(view.eta).toBe(0)
  })

  it('counts transactions while the IO thread is behind and Seconds_Behind_Master says 0', () => {
    // The SQL thread has applied all the IO thread fetched: SBM 0, yet the source is 40 transactions ahead.
    const view = replicationView(
      sample({source: {file: 'mariadb-bin.000004', position: 9000, gtid: '0-1-90'}, slave: {Read_Master_Log_Pos: 2000}}),
      undefined,
      VIEW_OPTIONS,
    )
    expect(view.report.secondsBehind).toBe(0)
    expect(view.behind).toBe(true)
    expect(view.report.caughtUp).toBe(false)
    expect(view.report.lag).toMatchObject({transactions: 40, bytes: 7000, files: 0})
    // Without an apply rate and with SBM 0, the time is unknown, not 0.
    expect(view.report.lag.seconds).toBeNull()
  })

  it('counts transactions when Seconds_Behind_Master is NULL (a thread stopped)', () => {
    const view = replicationView(
      sample({source: {file: 'mariadb-bin.000005', position: 300, gtid: '0-1-60'}, slave: {Slave_SQL_Running: 'No', Seconds_Behind_Master: null}}),
      undefined,
      VIEW_OPTIONS,
    )
    expect(view.report.secondsBehind).toBeNull()
    expect(view.report.lag).toMatchObject({transactions: 10, bytes: null, files: 1})
    expect(view.report.sql).toBe('stopped')
  })

  it('sums the missing transactions over GTID domains', () => {
    const view = replicationView(sample({source: {file: 'mariadb-bin.000004', position: 2000, gtid: '0-1-50,1-7-20'}, gtidSlavePos: '0-1-45,1-7-18'}), undefined, VIEW_OPTIONS)
    expect(view.report.lag.transactions).toBe(7)
  })

  it('in file mode counts bytes only', () => {
    const view = replicationView(
      sample({source: {file: 'mariadb-bin.000004', position: 5000, gtid: '0-1-70'}, slave: {Using_Gtid: 'No'}}),
      undefined,
      {...VIEW_OPTIONS, mode: 'file'},
    )
    expect(view.report.lag).toMatchObject({transactions: null, bytes: 3000, files: 0})
    expect(view.behind).toBe(true)
  })

  it('is unknown without the source, and Seconds_Behind_Master is all there is', () => {
    const view = replicationView(sample({source: 'unreachable', slave: {Seconds_Behind_Master: 12}}), undefined, VIEW_OPTIONS)
    expect(view.behind).toBeNull()
    expect(view.report.caughtUp).toBeNull()
    expect(view.report.lag).toEqual({transactions: null, bytes: null, files: null, seconds: 12})
    expect(view.report.source).toMatchObject({reachable: false, gtid: null, file: null, position: null})
    expect(view.report.source.error?.code).toBe('E_SOURCE_UNREACHABLE')
    // The replica's side is all there.
    expect(view.report).toMatchObject({reachable: true, linked: true, io: 'running', sql: 'running'})
    expect(view.report.replica).toMatchObject({gtidExecuted: '0-1-50', file: 'mariadb-bin.000004', position: 2000})
  })
})

describe('the replica', () => {
  it('unreachable: every live field null, the error kept', () => {
    const view = replicationView(sample({slave: 'unreachable'}), undefined, VIEW_OPTIONS)
    expect(view.report).toMatchObject({reachable: false, linked: false, io: null, sql: null, secondsBehind: null, caughtUp: null, hint: null})
    expect(view.report.error?.code).toBe('E_REPLICA_CONNECT')
    expect(view.applyRate).toBeNull()
  })

  it('without a source: linked false', () => {
    const view = replicationView(sample({slave: null}), undefined, VIEW_OPTIONS)
    expect(view.report).toMatchObject({reachable: true, linked: false, io: null})
    expect(view.linkedHere).toBe(false)
  })

  it('linked to another source is not linked here', () => {
    expect(replicationView(sample({slave: {Master_Host: '198.51.100.9'}}), undefined, VIEW_OPTIONS).linkedHere).toBe(false)
    expect(replicationView(sample(), undefined, VIEW_OPTIONS).linkedHere).toBe(true)
  })

  it('stopped on an error: the error, the failure and its hint', () => {
    const view = replicationView(
      sample({
        source: {file: 'mariadb-bin.000004', position: 2400, gtid: '0-1-51'},
        slave: {Slave_SQL_Running: 'No', Seconds_Behind_Master: null, Last_SQL_Errno: 1062, Last_SQL_Error: "Duplicate entry '7' for key 'PRIMARY'"},
      }),
      undefined,
      VIEW_OPTIONS,
    )
    expect(view.failure).toEqual({thread: 'sql', errno: 1062, message: "Duplicate entry '7' for key 'PRIMARY'"})
    expect(view.report.errors).toEqual({io: null, sql: {errno: 1062, message: "Duplicate entry '7' for key 'PRIMARY'"}})
    expect(view.report.hint?.text).toContain('az_replication_skip_counter')
    expect(view.report.hint?.commands[0]).toBe('CALL mysql.az_replication_skip_counter')
  })
})

describe('apply rate and time to catch up', () => {
  const before = sample({at: 0, source: {file: 'b.000001', position: 1000, gtid: '0-1-100'}, gtidSlavePos: '0-1-40', slave: {Relay_Master_Log_File: 'b.000001', Exec_Master_Log_Pos: 400}})
  const after = sample({at: 2000, source: {file: 'b.000001', position: 1200, gtid: '0-1-110'}, gtidSlavePos: '0-1-70', slave: {Relay_Master_Log_File: 'b.000001', Exec_Master_Log_Pos: 700}})

  it('measures what the replica applied and the source wrote between two samples', () => {
    expect(rates(before, after, 'gtid')).toEqual({
      transactionsPerSecond: 15,
      bytesPerSecond: 150,
      sourceTransactionsPerSecond: 5,
      sourceBytesPerSecond: 100,
      sampleSeconds: 2,
    })
  })

  it('estimates the lag in time from the backlog and the catch-up from the closing rate', () => {
    const view = replicationView(after, before, VIEW_OPTIONS)
    expect(view.report.lag.transactions).toBe(40)
    // 40 transactions at 15/s: the larger of that and Seconds_Behind_Master (0).
    expect(view.report.lag.seconds).toBeCloseTo(40 / 15)
    // The backlog shrinks by 15 - 5 = 10 transactions a second.
    expect(view.eta).toBeCloseTo(4)
  })

  it('has no catch-up time while the source writes as fast as the replica applies', () => {
    expect(eta({behind: true, transactions: 40, bytes: 500, mode: 'gtid', applyRate: {transactionsPerSecond: 5, bytesPerSecond: 50, sourceTransactionsPerSecond: 5, sourceBytesPerSecond: 50, sampleSeconds: 1}})).toBeNull()
  })

  it('takes Seconds_Behind_Master when it says more than the backlog does', () => {
    const applyRate = {transactionsPerSecond: 100, bytesPerSecond: null, sourceTransactionsPerSecond: 0, sourceBytesPerSecond: null, sampleSeconds: 1}
    expect(lagSeconds({behind: true, transactions: 10, bytes: null, mode: 'gtid', applyRate, secondsBehind: 30})).toBe(30)
    expect(lagSeconds({behind: true, transactions: 10, bytes: null, mode: 'gtid', applyRate, secondsBehind: 0})).toBeCloseTo(0.1)
    expect(lagSeconds({behind: true, transactions: 10, bytes: null, mode: 'gtid', applyRate: null, secondsBehind: 0})).toBeNull()
    expect(lagSeconds({behind: false, transactions: 0, bytes: 0, mode: 'gtid', applyRate: null, secondsBehind: null})).toBe(0)
  })

  it('counts only domains both positions know, and bytes only within one binlog file', () => {
    expect(gtidAdvance('0-1-10', '0-1-15,1-2-900')).toBe(5)
    expect(gtidAdvance('', '0-1-15')).toBe(0)
    const rotated = sample({at: 1000, slave: {Relay_Master_Log_File: 'b.000002', Exec_Master_Log_Pos: 10}})
    expect(rates(before, rotated, 'file')).toMatchObject({transactionsPerSecond: null, bytesPerSecond: null})
  })

  it('has no rate without two samples of a linked replica', () => {
    expect(replicationView(after, undefined, VIEW_OPTIONS).applyRate).toBeNull()
    expect(rates(sample({slave: 'unreachable'}), after, 'gtid')).toBeNull()
  })
})

describe('coordinateDistance', () => {
  it('counts bytes in one file, files across files, nothing when past', () => {
    expect(coordinateDistance({file: 'b.000003', position: 10}, {file: 'b.000003', position: 110})).toEqual({behind: true, bytes: 100, files: 0})
    expect(coordinateDistance({file: 'b.000003', position: 10}, {file: 'b.000005', position: 4})).toEqual({behind: true, bytes: null, files: 2})
    expect(coordinateDistance({file: 'b.000005', position: 10}, {file: 'b.000005', position: 10})).toEqual({behind: false, bytes: 0, files: 0})
    expect(coordinateDistance({file: '', position: 0}, {file: 'b.000005', position: 10})).toEqual({behind: true, bytes: null, files: null})
  })
})
