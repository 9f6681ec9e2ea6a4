import {describe, expect, it} from 'vitest'
import {queryTimeoutMs} from '../../src/lib/mariadb.js'
import {StallWatchdog, stallTimeoutMs} from '../../src/lib/stall.js'

describe('the no-progress bounds', () => {
  it('read DATAIN_STALL_TIMEOUT and DATAIN_QUERY_TIMEOUT in seconds, with defaults, and refuse anything else as bad input', () => {
    expect(stallTimeoutMs({})).toBe(300_000)
    expect(stallTimeoutMs({DATAIN_STALL_TIMEOUT: '1.5'})).toBe(1500)
    expect(queryTimeoutMs({})).toBe(60_000)
    expect(queryTimeoutMs({DATAIN_QUERY_TIMEOUT: '2'})).toBe(2000)
    for (const bad of ['0', '-1', 'ten', '1e400', 'NaN']) {
      expect(() => stallTimeoutMs({DATAIN_STALL_TIMEOUT: bad})).toThrow(expect.objectContaining({code: 'E_BAD_INPUT', exitCode: 2}))
      expect(() => queryTimeoutMs({DATAIN_QUERY_TIMEOUT: bad})).toThrow(expect.objectContaining({code: 'E_BAD_INPUT', exitCode: 2}))
    }
  })

  it('fires once when the reading stands still for the bound, never while it moves', async () => {
    let counter = 0
    const moving = setInterval(() => counter++, 20)
    let fired = 0
    const watchdog = new StallWatchdog(1000, () => counter, () => fired++)
    await new Promise((resolve) => setTimeout(resolve, 2000))
    expect(fired).toBe(0)
    clearInterval(moving)
    const stoppedAt = Date.now()
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (fired > 0 || Date.now() - stoppedAt > 5000) {
          clearInterval(check)
          resolve()
        }
      }, 20)
    })
    expect(fired).toBe(1)
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(990)
    watchdog.stop()
  })
})
