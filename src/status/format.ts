import {formatDuration} from '../preflight/format.js'

/** `0.4 s`, `12 s`, `3 min`, `1 h 5 min`: durations, with a decimal below ten seconds. */
export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)} s`
  return formatDuration(seconds)
}

/** A timestamp for people, in local time: `14:03:07` today, `2025-03-01 14:03` another day. */
export function formatTime(iso: string, now: Date = new Date()): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const two = (n: number) => String(n).padStart(2, '0')
  const day = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`
  const today = `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}`
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
  return day === today ? time : `${day} ${time.slice(0, 5)}`
}

/** `1 transaction`, `12 transactions`. */
export function plural(count: number, noun: string): string {
  return `${count.toLocaleString('en-US')} ${noun}${count === 1 ? '' : 's'}`
}

/** `0.5/s`, `12/s`, `1,250/s`: a rate with as many decimals as its size deserves. */
export function formatRate(perSecond: number): string {
  if (perSecond === 0) return '0'
  if (perSecond < 10) return perSecond.toFixed(1)
  return Math.round(perSecond).toLocaleString('en-US')
}
