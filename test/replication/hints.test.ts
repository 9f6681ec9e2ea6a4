import {describe, expect, it} from 'vitest'
import {hintControls, replicationHint} from '../../src/replication/hints.js'
import {azureReplication} from '../../src/targets/azure-mariadb/replication.js'

describe('hints for replication errors', () => {
  const hint = (errno: number, message = '', thread: 'io' | 'sql' = 'io') => replicationHint({thread, errno, message}, {controls: hintControls(azureReplication({gtid: true}).planned('mariadb')), profile: 'prod'})

  it('1236: the binlog is gone, keep binlogs longer and copy again', () => {
    expect(hint(1236)?.text).toMatch(/purged.*binlog_expire_logs_seconds.*fresh snapshot/s)
    expect(hint(1236)?.commands).toEqual(['datain stop --profile prod --remove', 'datain init --profile prod --force', 'datain start --profile prod'])
  })

  it('1045: the replication user’s login', () => {
    expect(hint(1045)?.text).toContain("refused the replication user's login")
  })

  it('2003/2026: network, or TLS when the message says so', () => {
    expect(hint(2003, "Can't connect to MySQL server on '203.0.113.5' (111)")?.text).toContain('cannot reach the source')
    expect(hint(2026, 'SSL connection error: certificate verify failed')?.text).toContain('--source-ssl-ca')
    expect(hint(2003, 'TLS/SSL error: self-signed certificate')?.text).toContain('--source-ssl-ca')
  })

  it('1062/1032: data drift, skip with the procedure of the right schema or copy again', () => {
    for (const errno of [1062, 1032]) {
      expect(hint(errno, '', 'sql')?.text).toMatch(/CALL mariadb\.az_replication_skip_counter.*fresh snapshot/s)
      expect(hint(errno, '', 'sql')?.commands[0]).toBe('CALL mariadb.az_replication_skip_counter')
    }
  })

  it('1593, 1955, 1950, 1146: equal server ids, GTID position, strict mode, a database not copied', () => {
    expect(hint(1593)?.text).toContain('same server_id')
    expect(hint(1955)?.text).toContain('gtid_slave_pos')
    expect(hint(1950, '', 'sql')?.text).toContain('strict mode')
    expect(hint(1146, '', 'sql')?.text).toContain('replicate_wild_ignore_table')
  })

  it('nothing for an error it knows nothing better about', () => {
    expect(hint(1317)).toBeUndefined()
  })
})
