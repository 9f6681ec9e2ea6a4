import {describe, expect, it} from 'vitest'
import {registerSecret} from '../../src/lib/redact.js'
import {renderStatus, wrap} from '../../src/ui/status.js'
import {STATE_EXIT_CODES, type StatusReport} from '../../src/status/status-report.js'
import {replicationView} from '../../src/status/replica-health.js'
import {frame, watchStatus} from '../../src/ui/status-watch.js'
import {sample, steps, VIEW_OPTIONS} from '../status/fixture.js'

const ESC = '\x1b['

function report(overrides: Partial<StatusReport> = {}, spec: Parameters<typeof sample>[0] = {}): StatusReport {
  const view = replicationView(sample({at: 1000, ...spec}), sample({at: 0}), VIEW_OPTIONS)
  return {
    profile: 'default',
    state: 'healthy',
    exitCode: STATE_EXIT_CODES.healthy,
    summary: 'Replicating: caught up.',
    next: null,
    maxLag: 300,
    steps: steps(7),
    replication: view.report,
    applyRate: view.applyRate,
    eta: view.eta,
    checkedAt: '2025-03-01T10:00:00.000Z',
    ...overrides,
  }
}

describe('datain status for people', () => {
  it('shows the verdict, every step, both threads, positions, lag, rate and errors', () => {
    const text = renderStatus(report())
    expect(text).toMatch(/^HEALTHY {2}Replicating: caught up\./)
    for (const title of ['Preflight', 'Binary log', 'Replication user', 'Firewall', 'Snapshot', 'Link', 'Replicate']) expect(text).toContain(`✔ ${title}`)
    expect(text).toMatch(/IO thread +running/)
    expect(text).toMatch(/SQL thread +running/)
    expect(text).toMatch(/Seconds_Behind_Master +0/)
    expect(text).toMatch(/Source now +GTID 0-1-50, mariadb-bin\.000004:2000/)
    expect(text).toMatch(/Replica executed +GTID 0-1-50, mariadb-bin\.000004:2000/)
    expect(text).toMatch(/Lag +none/)
    expect(text).toMatch(/Apply rate +0 transactions\/s/)
    expect(text).toMatch(/Last SQL error +none/)
    // No colour unless a painter is given (oclif's colorize decides for the terminal).
    expect(text).not.toContain(ESC)
  })

  it('aligns the step table and colours only the marks and states', () => {
    const paint = (color: string, text: string) => `<${color}>${text}</>`
    const list = steps(4, {state: 'failed', error: {code: 'E_SNAPSHOT', message: 'mariadb-dump failed'}})
    const text = renderStatus(report({state: 'setup-incomplete', exitCode: 1, summary: 'Setup not finished.', next: 'datain start', steps: list}), {paint})
    expect(text).toContain('<yellow>SETUP NOT FINISHED</>')
    expect(text).toContain('<red>✘</> Snapshot')
    expect(text).toContain('<red>E_SNAPSHOT: mariadb-dump failed</>')
    expect(text).toContain('Next: datain start')
    const plain = renderStatus(report({steps: list}))
    const rows = plain.split('\n').filter((l) => /^ {2}[✔✘·] /.test(l))
    expect(rows).toHaveLength(7)
    // The State column starts at the same place on every row.
    expect(new Set(rows.map((r) => r.search(/ (done|failed|not-started)/))).size).toBe(1)
  })

  it('says what it could not read', () => {
    const text = renderStatus(report({}, {source: 'unreachable', slave: {Seconds_Behind_Master: 3}}))
    expect(text).toMatch(/Source now +not read: Nothing accepts connections/)
    expect(text).toMatch(/Lag +unknown without the source \(Seconds_Behind_Master 3 s\)/)
    const down = renderStatus(report({state: 'replica-unreachable', exitCode: 4}, {slave: 'unreachable'}))
    expect(down).toMatch(/Replica +unreachable: Could not connect/)
  })

  it('fits a terminal: rows cut, paragraphs wrapped', () => {
    const long = steps(7).map((s) => ({...s, summary: 'x'.repeat(200)}))
    const text = renderStatus(report({steps: long, summary: 'word '.repeat(60).trim()}), {width: 60})
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(60)
    expect(wrap('aaa bbb ccc', 7)).toEqual(['aaa bbb', 'ccc'])
    expect(wrap('aaa bbb ccc', 7, '  ')).toEqual(['  aaa', '  bbb', '  ccc'])
  })
})

describe('--watch frames', () => {
  it('on a terminal: home, every line cleared to its end, the rest of the screen cleared, in one write', () => {
    const text = frame('one\ntwo', true)
    expect(text).toBe(`${ESC}Hone${ESC}K\ntwo${ESC}K${ESC}J`)
    // Taller than the screen: cut, so that home stays its top.
    expect(frame('1\n2\n3\n4\n5', true, 4).split('\n')).toHaveLength(3)
  })

  it('elsewhere: plain frames one after the other, secrets masked', () => {
    registerSecret('S3cr3t-pw')
    expect(frame('pw S3cr3t-pw', false)).toBe('pw ***\n\n')
  })

  it('refreshes until aborted, then shows the cursor again', async () => {
    const writes: string[] = []
    const out = {isTTY: true, columns: 80, rows: 50, write: (s: string) => writes.push(s)}
    const controller = new AbortController()
    let checks = 0
    await watchStatus({
      check: async () => {
        if (++checks === 3) controller.abort()
        return report()
      },
      render: (r) => r.summary,
      intervalSeconds: 0.01,
      signal: controller.signal,
      out,
    })
    expect(checks).toBe(3)
    expect(writes[0]).toBe(`${ESC}?25l`)
    const frames = writes.filter((w) => w.startsWith(`${ESC}H`))
    expect(frames).toHaveLength(2)
    expect(frames[0]).toContain("datain status --watch: profile 'default', every 0.01 s")
    expect(writes.at(-2)).toBe(`${ESC}?25h`)
    expect(writes.at(-1)).toBe('\n')
  })

  it('leaves at once when aborted during a slow check', async () => {
    const controller = new AbortController()
    const writes: string[] = []
    const started = Date.now()
    setTimeout(() => controller.abort(), 50)
    await watchStatus({
      check: () => new Promise<StatusReport>((resolve) => setTimeout(() => resolve(report()), 5000)),
      render: (r) => r.summary,
      intervalSeconds: 1,
      signal: controller.signal,
      out: {write: (s: string) => writes.push(s)},
    })
    expect(Date.now() - started).toBeLessThan(1000)
    expect(writes).toEqual(['\n'])
  })
})
