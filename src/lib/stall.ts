import {secondsFromEnv} from './env-seconds.js'

/** How long a child or a copy query may go without a byte or a row before datain ends it. */
export const DEFAULT_STALL_TIMEOUT_S = 300
export const STALL_TIMEOUT_ENV = 'DATAIN_STALL_TIMEOUT'

/**
 * The no-progress bound in milliseconds: `DATAIN_STALL_TIMEOUT` seconds, or five minutes. A
 * mariadb-dump that spins (Debian's 10.11 does, on some inputs) or a query held by a lock would
 * otherwise keep datain at 99 % for ever.
 */
export function stallTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  return Math.round(secondsFromEnv(STALL_TIMEOUT_ENV, DEFAULT_STALL_TIMEOUT_S, env) * 1000)
}

/**
 * Calls `onStall` once when `progress()` has not changed for `timeoutMs`. The reading is polled
 * (a few times per bound), so that a counter that is cheap to read (bytes so far) is enough.
 */
export class StallWatchdog {
  private last: number
  private since = Date.now()
  private readonly timer: NodeJS.Timeout

  constructor(
    readonly timeoutMs: number,
    private readonly progress: () => number,
    onStall: () => void,
  ) {
    this.last = progress()
    this.timer = setInterval(
      () => {
        const now = this.progress()
        if (now !== this.last) {
          this.last = now
          this.since = Date.now()
        } else if (Date.now() - this.since >= this.timeoutMs) {
          this.stop()
          onStall()
        }
      },
      Math.max(50, Math.min(1000, timeoutMs / 4)),
    )
    // A watchdog alone must not keep datain alive.
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
