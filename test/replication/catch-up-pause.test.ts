import {describe, expect, it} from 'vitest'
import {FIRST_LOOK_MS, pauseAfterLook} from '../../src/replication/catch-up.js'

describe('pauseAfterLook', () => {
  it('waits 50 ms after the first look, doubling up to pollMs, and never more', () => {
    expect(FIRST_LOOK_MS).toBe(50)
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => pauseAfterLook(n, 1000))).toEqual([50, 100, 200, 400, 800, 1000, 1000])
    // Thousands of looks (a 30-minute wait) stay at pollMs, with no overflow to Infinity or NaN.
    expect(pauseAfterLook(100_000, 1000)).toBe(1000)
    // A poll shorter than the first pause (tests use 100 ms) is kept as it is.
    expect([1, 2, 3].map((n) => pauseAfterLook(n, 30))).toEqual([30, 30, 30])
  })
})
