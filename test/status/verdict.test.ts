import {describe, expect, it} from 'vitest'
import {STATE_EXIT_CODES} from '../../src/status/status-report.js'
import {replicationView} from '../../src/status/replica-health.js'
import {setupProgress, type SetupProgress} from '../../src/status/setup-progress.js'
import {judge, type VerdictInput} from '../../src/status/verdict.js'
import {sample, type SampleSpec, steps, VIEW_OPTIONS} from './fixture.js'

const complete: SetupProgress = {kind: 'complete'}
const live = {pid: 4242, command: 'start', startedAt: '2025-03-01T10:00:00.000Z', alive: true}

function verdict(spec: SampleSpec | undefined, overrides: Partial<VerdictInput> = {}, previous?: SampleSpec) {
  const view = spec ? replicationView(sample(spec), previous ? sample(previous) : undefined, VIEW_OPTIONS) : undefined
  const v = judge({profile: 'default', setup: complete, linked: true, view, maxLag: 300, steps: steps(7), hint: VIEW_OPTIONS.hint, ...overrides})
  return {...v, exitCode: STATE_EXIT_CODES[v.state]}
}

describe('the overall state and its exit code', () => {
  it('not started: 1, with datain start next and no server read', () => {
    const v = verdict(undefined, {setup: setupProgress(steps(0), undefined), linked: false})
    expect(v).toMatchObject({state: 'not-started', exitCode: 1, next: 'datain start'})
    expect(v.summary).toContain('Run datain start')
  })

  it('a step failed: 1, naming the step, its error and datain start', () => {
    const list = steps(1, {state: 'failed', error: {code: 'E_BINLOG', message: 'binlog_format is STATEMENT.'}})
    const v = verdict({slave: null}, {setup: setupProgress(list, undefined), linked: false, steps: list})
    expect(v).toMatchObject({state: 'setup-incomplete', exitCode: 1, next: 'datain start'})
    expect(v.summary).toContain('step 2/7, Binary log, failed (E_BINLOG): binlog_format is STATEMENT.')
  })

  it('a step interrupted: 1, with the profile in the next command', () => {
    const list = steps(4, {state: 'interrupted', error: {code: 'E_INTERRUPTED', message: 'datain was interrupted.'}})
    const v = verdict({slave: 'unreachable'}, {profile: 'prod', setup: setupProgress(list, undefined), linked: false, steps: list})
    // Before the link, an unreachable replica does not decide: the setup does.
    expect(v).toMatchObject({state: 'setup-incomplete', exitCode: 1, next: 'datain start --profile prod'})
    expect(v.summary).toContain('Snapshot, was interrupted')
  })

  it('a start running now: 1, setup in progress', () => {
    const list = steps(4, {state: 'running'})
    const v = verdict({slave: null}, {setup: setupProgress(list, live), linked: false, steps: list})
    expect(v).toMatchObject({state: 'setup-in-progress', exitCode: 1})
    expect(v.summary).toContain('datain start (pid 4242) is at step 5/7, Snapshot')
  })

  it('healthy: 0 when caught up', () => {
    expect(verdict({})).toMatchObject({state: 'healthy', exitCode: 0, next: null, summary: 'Replicating: caught up.'})
  })

  it('healthy: 0 when behind within --max-lag', () => {
    const v = verdict(
      {at: 1000, source: {file: 'mariadb-bin.000004', position: 2600, gtid: '0-1-53'}, gtidSlavePos: '0-1-50'},
      {},
      {at: 0, source: {file: 'mariadb-bin.000004', position: 2000, gtid: '0-1-50'}, gtidSlavePos: '0-1-20'},
    )
    expect(v).toMatchObject({state: 'healthy', exitCode: 0})
    expect(v.summary).toContain('3 transactions behind')
  })

  it('lagging: 5 when behind beyond --max-lag, whatever Seconds_Behind_Master says', () => {
    const behind = {source: {file: 'mariadb-bin.000004', position: 2600, gtid: '0-1-53'}, slave: {Seconds_Behind_Master: 0}}
    expect(verdict(behind, {maxLag: 0})).toMatchObject({state: 'lagging', exitCode: 5, next: 'datain status --watch'})
    // Nothing applied while datain looked and SBM 0: the time is unknown, which does not pass for within --max-lag.
    expect(verdict(behind, {maxLag: 300}, {at: 0, ...behind})).toMatchObject({state: 'lagging', exitCode: 5})
    expect(verdict({...behind, slave: {Seconds_Behind_Master: 900}}, {maxLag: 300})).toMatchObject({state: 'lagging'})
    expect(verdict({...behind, slave: {Seconds_Behind_Master: 90}}, {maxLag: 300})).toMatchObject({state: 'healthy'})
  })

  it('broken: 3 with the replica’s own error text and the hint', () => {
    const v = verdict({slave: {Slave_SQL_Running: 'No', Last_SQL_Errno: 1062, Last_SQL_Error: "Duplicate entry '7' for key 'PRIMARY'"}})
    expect(v).toMatchObject({state: 'broken', exitCode: 3, next: 'CALL mysql.az_replication_skip_counter'})
    expect(v.summary).toContain("error 1062: Duplicate entry '7' for key 'PRIMARY'")
    expect(v.summary).toContain('az_replication_skip_counter')
  })

  it('broken: 3 while the IO thread keeps failing to connect; the source unreachable is said, not fatal', () => {
    const v = verdict({source: 'unreachable', slave: {Slave_IO_Running: 'Connecting', Seconds_Behind_Master: null, Last_IO_Errno: 2003, Last_IO_Error: "Can't connect"}})
    expect(v).toMatchObject({state: 'broken', exitCode: 3})
    expect(v.summary).toContain('keeps failing with error 2003')
    expect(v.summary).toContain('The source does not answer datain either')
  })

  describe('the IO thread reconnecting after the source restarted', () => {
    // What the replica shows after its source restarted: its one try while the source was down failed,
    // and the next comes Connect_Retry seconds later, while the source answers datain again.
    const reconnecting = {Slave_IO_Running: 'Connecting', Slave_IO_State: 'Reconnecting after a failed master event read', Seconds_Behind_Master: null, Last_IO_Errno: 2003, Last_IO_Error: "error reconnecting to master 'datain_repl@203.0.113.5:3306' - retry-time: 60  maximum-retries: 100000  message: Can't connect to server on '203.0.113.5' (111 \"Connection refused\")", Connect_Retry: 60}
    const restarted = (uptime: number, position = {file: 'mariadb-bin.000005', position: 4, gtid: '0-1-50'}) => ({...position, uptime})

    it('not broken while the source has run for less than Connect_Retry: healthy when caught up, with what happens said', () => {
      const v = verdict({source: restarted(8), slave: reconnecting})
      expect(v).toMatchObject({state: 'healthy', exitCode: 0, next: null})
      expect(v.summary).toContain("The replica's IO thread is reconnecting: its last try failed (error 2003) while the source restarted")
      expect(v.summary).toContain('every 60 s (Connect_Retry)')
      // The replica's own fields stay as it shows them; no hint to act on.
      const view = replicationView(sample({source: restarted(8), slave: reconnecting}), undefined, VIEW_OPTIONS)
      expect(view.report).toMatchObject({io: 'connecting', errors: {io: {errno: 2003}}, hint: null})
      expect(view.failure).toBeUndefined()
    })

    it('lagging when the source wrote meanwhile and nothing was applied', () => {
      const behind = restarted(8, {file: 'mariadb-bin.000005', position: 900, gtid: '0-1-60'})
      const v = verdict({source: behind, slave: reconnecting}, {}, {at: 0, source: behind, slave: reconnecting})
      expect(v).toMatchObject({state: 'lagging', exitCode: 5})
      expect(v.summary).toContain('reconnecting')
    })

    it('broken once the replica has had its next try since the source came back, or when the error is not one of a server down', () => {
      expect(verdict({source: restarted(75), slave: reconnecting})).toMatchObject({state: 'broken', exitCode: 3})
      expect(verdict({source: restarted(20), slave: {...reconnecting, Connect_Retry: 5}})).toMatchObject({state: 'broken', exitCode: 3})
      const refused = verdict({source: restarted(8), slave: {...reconnecting, Last_IO_Errno: 1045, Last_IO_Error: 'Access denied'}})
      expect(refused).toMatchObject({state: 'broken', exitCode: 3})
      // The source's uptime unknown (not read): as before, broken.
      expect(verdict({slave: reconnecting})).toMatchObject({state: 'broken', exitCode: 3})
      expect(verdict({source: 'unreachable', slave: reconnecting})).toMatchObject({state: 'broken', exitCode: 3})
    })
  })

  it('the source unreachable while the replica replicates: judged by Seconds_Behind_Master', () => {
    const ok = verdict({source: 'unreachable', slave: {Seconds_Behind_Master: 2}})
    expect(ok).toMatchObject({state: 'healthy', exitCode: 0})
    expect(ok.summary).toContain('judged by Seconds_Behind_Master alone')
    expect(verdict({source: 'unreachable', slave: {Seconds_Behind_Master: 400}})).toMatchObject({state: 'lagging', exitCode: 5})
  })

  it('stopped: 3 when both threads are off without an error; one thread off: broken', () => {
    expect(verdict({slave: {Slave_IO_Running: 'No', Slave_SQL_Running: 'No', Seconds_Behind_Master: null}})).toMatchObject({state: 'stopped', exitCode: 3, next: 'datain start'})
    expect(verdict({slave: {Slave_IO_Running: 'No', Seconds_Behind_Master: null}})).toMatchObject({state: 'broken', exitCode: 3})
  })

  it('stopped by datain stop: 3, in its own words', () => {
    const message = "Replication was stopped with 'datain stop' at 2025-03-01T10:00:00.000Z; 'datain start' starts it again."
    const v = verdict({slave: {Slave_IO_Running: 'No', Slave_SQL_Running: 'No', Seconds_Behind_Master: null}}, {stoppedByDatain: message})
    expect(v).toMatchObject({state: 'stopped', exitCode: 3, next: 'datain start'})
    expect(v.summary).toContain(message)
  })

  it('removed by datain stop --remove or --cutover: 0, replication ended on purpose, whatever the replica says', () => {
    const removed = {at: '2025-03-01T10:00:00.000Z', via: 'cutover', linked: true}
    const v = verdict({slave: null}, {removed})
    expect(v).toMatchObject({state: 'removed', exitCode: 0, next: null})
    expect(v.summary).toContain('datain stop --cutover')
    expect(verdict({slave: 'unreachable'}, {removed: {...removed, via: 'remove'}})).toMatchObject({state: 'removed', exitCode: 0})
  })

  it('unlinked: 3 when the replica has no source, or another one', () => {
    expect(verdict({slave: null})).toMatchObject({state: 'unlinked', exitCode: 3})
    const other = verdict({slave: {Master_Host: '198.51.100.9'}})
    expect(other).toMatchObject({state: 'unlinked', exitCode: 3})
    expect(other.summary).toContain('198.51.100.9:3306')
  })

  it('the replica unreachable once linked: 4; its firewall refusing names datain start', () => {
    expect(verdict({slave: 'unreachable'})).toMatchObject({state: 'replica-unreachable', exitCode: 4, next: null})
    const view = replicationView(sample({slave: 'unreachable'}), undefined, VIEW_OPTIONS)
    view.report.error = {code: 'E_REPLICA_FIREWALL', message: "The replica's firewall does not let this machine in."}
    const v = judge({profile: 'default', setup: complete, linked: true, view, maxLag: 300, steps: steps(7), hint: {}})
    expect(v).toMatchObject({state: 'replica-unreachable', next: 'datain start'})
  })

  it('linked but the last step not done: 1 while replication runs, 3 when it is broken', () => {
    const list = steps(6, {state: 'failed', error: {code: 'E_REPLICATION_LAGGING', message: 'not caught up after 30 min'}})
    const setup = setupProgress(list, undefined)
    expect(verdict({}, {setup, steps: list})).toMatchObject({state: 'setup-incomplete', exitCode: 1})
    expect(verdict({slave: {Slave_SQL_Running: 'No', Last_SQL_Errno: 1032, Last_SQL_Error: "Can't find record"}}, {setup, steps: list})).toMatchObject({
      state: 'broken',
      exitCode: 3,
    })
  })
})
