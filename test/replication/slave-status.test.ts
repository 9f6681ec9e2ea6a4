import {describe, expect, it} from 'vitest'
import {describeLag, isRemovedLink, parseReplicaStatus, replicationLag, type SourcePosition} from '../../src/replication/slave-status.js'
import {ioGrace, threadFailure} from '../../src/replication/catch-up.js'
import {slaveRow} from '../status/fixture.js'

const target: SourcePosition = {file: 'mariadb-bin.000004', position: 2000, gtid: '0-1-50'}

describe('SHOW SLAVE STATUS', () => {
  it('is read into a typed status', () => {
    expect(parseReplicaStatus(slaveRow({Seconds_Behind_Master: null, Slave_IO_Running: 'Connecting', Last_IO_Errno: 2003, Last_IO_Error: "Can't connect"}))).toEqual({
      ioThread: 'connecting',
      sqlRunning: true,
      ioState: 'Waiting for master to send event',
      sqlState: 'Slave has read all relay log; waiting for more updates',
      secondsBehindMaster: null,
      lastIoErrno: 2003,
      lastIoError: "Can't connect",
      lastSqlErrno: 0,
      lastSqlError: '',
      usingGtid: 'Slave_Pos',
      gtidIoPos: '0-1-50',
      masterLogFile: 'mariadb-bin.000004',
      readMasterLogPos: 2000,
      relayMasterLogFile: 'mariadb-bin.000004',
      execMasterLogPos: 2000,
      relayLogFile: 'mariadb-relay-bin.000002',
      masterHost: '203.0.113.5',
      masterPort: 3306,
      masterUser: 'datain_repl',
      masterSslAllowed: true,
      masterServerId: 1,
      connectRetry: 60,
    })
    expect(parseReplicaStatus(slaveRow({Slave_IO_Running: 'No', Slave_SQL_Running: 'No'}))).toMatchObject({ioThread: 'stopped', sqlRunning: false})
  })

  // What MariaDB 10.11 shows, read off a replica of the sandbox (test/sandbox/azure-fidelity.test.ts).
  const stopped = {Slave_IO_Running: 'No', Slave_SQL_Running: 'No', Seconds_Behind_Master: null}
  const afterResetSlave = {...stopped, Master_Log_File: '', Read_Master_Log_Pos: 4, Relay_Master_Log_File: '', Exec_Master_Log_Pos: 0, Gtid_IO_Pos: '', Relay_Log_File: ''}

  it('reads the row RESET SLAVE leaves as a removed link, host and user still there', () => {
    expect(isRemovedLink(parseReplicaStatus(slaveRow(afterResetSlave)))).toBe(true)
    expect(parseReplicaStatus(slaveRow(afterResetSlave))).toMatchObject({masterHost: '203.0.113.5', masterUser: 'datain_repl'})
  })

  it.each([
    ['a GTID link made and not yet started (a relay log opened)', {...afterResetSlave, Relay_Log_File: 'mariadb-relay-bin.000001'}],
    ['a file-mode link made and not yet started', {...stopped, Master_Log_File: 'b.000001', Read_Master_Log_Pos: 1137, Relay_Master_Log_File: 'b.000001', Exec_Master_Log_Pos: 1137, Gtid_IO_Pos: '', Relay_Log_File: 'mariadb-relay-bin.000001'}],
    ['a link stopped by datain stop', {...stopped}],
    ['an IO thread retrying to connect', {...afterResetSlave, Slave_IO_Running: 'Connecting'}],
    ['an SQL thread running', {...afterResetSlave, Slave_SQL_Running: 'Yes'}],
    ['a GTID position read', {...afterResetSlave, Gtid_IO_Pos: '0-1-4'}],
  ])('does not read %s as removed', (_name, row) => {
    expect(isRemovedLink(parseReplicaStatus(slaveRow(row)))).toBe(false)
  })
})

describe('caught up', () => {
  it('in GTID mode needs gtid_slave_pos to include the target in every domain, whatever Seconds_Behind_Master says', () => {
    const status = parseReplicaStatus(slaveRow())
    expect(replicationLag(status, '0-1-50', target, 'gtid')).toMatchObject({caughtUp: true, transactions: 0})
    // Seconds_Behind_Master is 0 while the IO thread has not even read the last 3 transactions.
    const behind = replicationLag(status, '0-1-47', target, 'gtid')
    expect(behind).toMatchObject({caughtUp: false, transactions: 3, seconds: 0})
    expect(describeLag(behind)).toBe('3 transactions behind, Seconds_Behind_Master 0 s')
    const domains = replicationLag(status, '0-1-50', {...target, gtid: '0-1-50,1-4-2'}, 'gtid')
    expect(domains).toMatchObject({caughtUp: false, transactions: 2})
  })

  it('in file mode needs the applied coordinates (Relay_Master_Log_File, Exec_Master_Log_Pos) at the target', () => {
    const applied = parseReplicaStatus(slaveRow({Exec_Master_Log_Pos: 1500, Seconds_Behind_Master: null}))
    const lag = replicationLag(applied, '', target, 'file')
    expect(lag).toMatchObject({caughtUp: false, bytes: 500, seconds: null})
    expect(describeLag(lag)).toBe('500 B of binlog behind, Seconds_Behind_Master unknown')
    const files = replicationLag(parseReplicaStatus(slaveRow({Relay_Master_Log_File: 'mariadb-bin.000002'})), '', target, 'file')
    expect(describeLag(files)).toContain('2 binlog files behind')
    expect(replicationLag(parseReplicaStatus(slaveRow()), '', target, 'file').caughtUp).toBe(true)
  })

  it('never while a thread is stopped, even at the target', () => {
    const lag = replicationLag(parseReplicaStatus(slaveRow({Slave_SQL_Running: 'No'})), '0-1-50', target, 'gtid')
    expect(lag.caughtUp).toBe(false)
    expect(describeLag(lag)).toContain('threads not both running')
  })
})

describe('a failed thread', () => {
  it('is the SQL thread first, then an IO thread that stopped or keeps retrying with an error', () => {
    const both = parseReplicaStatus(slaveRow({Slave_SQL_Running: 'No', Last_SQL_Errno: 1062, Last_SQL_Error: 'dup', Slave_IO_Running: 'No', Last_IO_Errno: 1236, Last_IO_Error: 'gone'}))
    expect(threadFailure(both)).toEqual({thread: 'sql', errno: 1062, message: 'dup'})
    expect(threadFailure(parseReplicaStatus(slaveRow({Slave_IO_Running: 'Connecting', Last_IO_Errno: 1045, Last_IO_Error: 'denied'})))).toEqual({
      thread: 'io',
      errno: 1045,
      message: 'denied',
    })
    // A running thread with an old error recorded has recovered.
    expect(threadFailure(parseReplicaStatus(slaveRow({Last_IO_Errno: 2013, Last_IO_Error: 'lost'})))).toBeUndefined()
  })
})

describe('how long the setup waits for a failing IO thread', () => {
  const failing = (errno: number, connectRetry: number) => {
    const status = parseReplicaStatus(slaveRow({Slave_IO_Running: 'Connecting', Last_IO_Errno: errno, Last_IO_Error: 'x', Connect_Retry: connectRetry}))
    return ioGrace(threadFailure(status)!, status, 30_000)
  }

  it('gives a source that was down one full Connect_Retry and a margin, since the replica tries again only that often', () => {
    expect(failing(2003, 60)).toBe(70_000)
    expect(failing(2013, 5)).toBe(30_000)
  })

  it('keeps its own grace for errors a retry does not heal (a refused login)', () => {
    expect(failing(1045, 60)).toBe(30_000)
  })
})
