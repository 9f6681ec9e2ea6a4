import {setTimeout as sleep} from 'node:timers/promises'
import {redact} from '../lib/redact.js'
import type {StatusReport} from '../status/status-report.js'

/** Where frames go: stdout, or whatever a test gives. */
export interface FrameOutput {
  write(text: string): unknown
  isTTY?: boolean
  columns?: number
  rows?: number
}

export interface WatchOptions {
  check(): Promise<StatusReport>
  render(report: StatusReport, width: number | undefined): string
  intervalSeconds: number
  /** Aborted on Ctrl-C / SIGTERM: the watch ends, cleanly, at once. */
  signal: AbortSignal
  /** Default: stdout. */
  out?: FrameOutput
}

const CURSOR_HOME = '\x1b[H'
const CLEAR_LINE_END = '\x1b[K'
const CLEAR_SCREEN_END = '\x1b[J'
const HIDE_CURSOR = '\x1b[?25l'
const SHOW_CURSOR = '\x1b[?25h'

/**
 * `datain status --watch`: a fresh report every `intervalSeconds` until the signal aborts. On a
 * terminal each frame replaces the last without flicker: the cursor goes home, every line clears
 * what is left of the old one, the end of the screen is cleared, and the whole frame is one write.
 * Elsewhere (a pipe, a log) frames follow each other, each under its own header line. The cursor is
 * shown again however the watch ends.
 */
export async function watchStatus(options: WatchOptions): Promise<void> {
  const {out = process.stdout, signal} = options
  const tty = Boolean(out.isTTY)
  if (tty) out.write(HIDE_CURSOR)
  try {
    while (!signal.aborted) {
      const report = await untilAborted(options.check(), signal)
      if (!report) break
      const body = options.render(report, tty ? out.columns : undefined)
      out.write(frame(header(report, options.intervalSeconds) + '\n\n' + body, tty, out.rows))
      try {
        await sleep(options.intervalSeconds * 1000, undefined, {signal})
      } catch {
        break
      }
    }
  } finally {
    if (tty) out.write(SHOW_CURSOR)
    out.write('\n')
  }
}

function header(report: StatusReport, interval: number): string {
  return `datain status --watch: profile '${report.profile}', every ${interval} s, ${new Date(report.checkedAt).toLocaleTimeString('en-GB')}. Ctrl-C to leave.`
}

/**
 * One frame as written: redrawn in place on a terminal, appended elsewhere. On a terminal it is cut
 * to the screen's height: a frame taller than the screen would scroll, and home would no longer be
 * its top.
 */
export function frame(text: string, tty: boolean, rows?: number): string {
  const clean = redact(text)
  if (!tty) return clean + '\n\n'
  let lines = clean.split('\n')
  if (rows !== undefined && rows > 1 && lines.length > rows - 1) lines = [...lines.slice(0, rows - 2), '…']
  return CURSOR_HOME + lines.map((line) => line + CLEAR_LINE_END).join('\n') + CLEAR_SCREEN_END
}

/** The value, or undefined as soon as the signal aborts: Ctrl-C does not wait for a slow server. */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return undefined
  let onAbort: (() => void) | undefined
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined)
    signal.addEventListener('abort', onAbort, {once: true})
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort!)
    // A check still running when Ctrl-C came must not surface as an unhandled rejection.
    promise.catch(() => {})
  }
}
