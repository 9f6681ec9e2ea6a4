import {globalVariables, isOn} from '../../lib/sql.js'
import type {Check} from '../check.js'
import {dataBytes} from './data-bytes.js'
import {describeDatabases, formatBytes, formatDuration} from '../../lib/format.js'

/** A conservative copy rate: a dump streamed over the internet into Azure, restored with its indexes. */
export const COPY_BYTES_PER_SECOND = 20_000_000
/** Added to every estimate: connecting, the lock, the link, and the time a person takes between steps. */
export const COPY_OVERHEAD_SECONDS = 3600

/** The estimated copy time for `bytes` of data: 20 MB/s plus one hour. */
export function estimateCopySeconds(bytes: number): number {
  return bytes / COPY_BYTES_PER_SECOND + COPY_OVERHEAD_SECONDS
}

/**
 * Are the source's binary logs kept long enough? Replication starts from the snapshot's coordinates
 * once the copy is done; binary logs purged in between make the replica fail with error 1236.
 */
export const binlogRetention: Check = {
  id: 'binlog-retention',
  title: 'Binary log retention on the source',
  needs: [],
  async run(ctx) {
    const vars = await globalVariables(ctx.source, ['log_bin', 'expire_logs_days', 'binlog_expire_logs_seconds'])
    if (!isOn(vars.log_bin)) {
      return {status: 'not-run', message: 'Not run: binary logging is off on the source, so no binary log is kept at all (see the binary log check).'}
    }
    const days = Number(vars.expire_logs_days ?? '0')
    // 10.6+ has both and keeps them in step; before 10.6 only expire_logs_days exists.
    const secondsVariable = vars.binlog_expire_logs_seconds
    const seconds = secondsVariable !== undefined && Number(secondsVariable) > 0 ? Number(secondsVariable) : Math.round(days * 86_400)
    const setting =
      secondsVariable === undefined
        ? `expire_logs_days=${formatNumber(days)}`
        : `binlog_expire_logs_seconds=${secondsVariable}, expire_logs_days=${formatNumber(days)}`

    const bytes = await dataBytes(ctx)
    const estimate = estimateCopySeconds(bytes)
    // The copy's own estimate, then the hour of margin said apart: "1 h (20 MB/s plus one hour)" for 328 kB read as if the copy took an hour.
    const copy =
      `copying ${formatBytes(bytes)} in ${describeDatabases(ctx.databases)} takes about ${formatDuration(bytes / COPY_BYTES_PER_SECOND)} at a conservative 20 MB/s, ` +
      `so replication starts within ${formatDuration(estimate)} (an hour added for the steps around the copy)`

    if (seconds === 0) {
      return {status: 'pass', message: `The source keeps its binary logs until they are purged by hand (${setting}); ${copy}.`}
    }
    if (seconds >= 2 * estimate) {
      return {status: 'pass', message: `The source keeps its binary logs for ${formatDuration(seconds)} (${setting}), at least twice as long as needed: ${copy}.`}
    }
    const wantedDays = Math.max(1, Math.ceil((2 * estimate) / 86_400))
    const wanted = wantedDays * 86_400
    const fix =
      secondsVariable === undefined
        ? `In the source's my.cnf, section [mariadb], set expire_logs_days = ${wantedDays} and apply it now without a restart: SET GLOBAL expire_logs_days = ${wantedDays};`
        : `In the source's my.cnf, section [mariadb], set binlog_expire_logs_seconds = ${wanted} (${wantedDays} ${wantedDays === 1 ? 'day' : 'days'}) and apply it now without a restart: SET GLOBAL binlog_expire_logs_seconds = ${wanted};`
    return {
      status: 'warn',
      message:
        `The source keeps its binary logs for only ${formatDuration(seconds)} (${setting}), less than twice the estimated copy time: ${copy}; ` +
        `binary logs purged before replication starts make it fail with error 1236.`,
      fix: `${fix} Do not run PURGE BINARY LOGS until replication runs.`,
    }
  },
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(6)))
}
