import {copyProgressLine} from './copy-progress.js'
import {type Color, type Paint, plain} from './paint.js'
import {terminalSafe} from './terminal-text.js'
import {tableLines} from './table.js'
import {formatBytes, formatDuration, formatRate, formatTime, plural} from '../lib/format.js'
import type {OverallState, StatusReport, StepDisplayState, StepStatus} from '../status/status-report.js'


export interface RenderOptions {
  paint?: Paint
  /** Terminal columns: long lines are wrapped, table rows cut to fit. Default: neither (a log, a pipe). */
  width?: number
  now?: Date
}

const STATE_LABELS: Readonly<Record<OverallState, [string, Color]>> = {
  'not-started': ['NOT STARTED', 'yellow'],
  'setup-in-progress': ['SETTING UP', 'cyan'],
  'setup-incomplete': ['SETUP NOT FINISHED', 'yellow'],
  'replica-unreachable': ['REPLICA UNREACHABLE', 'red'],
  broken: ['BROKEN', 'red'],
  stopped: ['STOPPED', 'red'],
  unlinked: ['NOT LINKED', 'red'],
  lagging: ['LAGGING', 'yellow'],
  healthy: ['HEALTHY', 'green'],
  removed: ['ENDED', 'gray'],
}

const STEP_MARKS: Readonly<Record<StepDisplayState, [string, Color]>> = {
  'not-started': ['·', 'gray'],
  running: ['▶', 'cyan'],
  done: ['✔', 'green'],
  failed: ['✘', 'red'],
  interrupted: ['!', 'yellow'],
}

/** The width a report may take on stdout: the terminal's, or none (a pipe, a log) for lines that are not cut. */
export function stdoutWidth(): number | undefined {
  return process.stdout.isTTY ? process.stdout.columns : undefined
}

/** `datain status` for people: the verdict, the steps as a table, then replication as it is now. */
export function renderStatus(status: StatusReport, options: RenderOptions = {}): string {
  // Errors, names and positions come from the servers; the colours added below are datain's own.
  const report = terminalSafe(status)
  const paint = options.paint ?? plain
  const width = options.width ?? Number.POSITIVE_INFINITY
  const now = options.now ?? new Date()
  const lines: string[] = []
  const [label, color] = STATE_LABELS[report.state]
  const [first = '', ...rest] = report.summary.split('\n')
  lines.push(...wrap(`${paint(color, label)}  ${first}`, width, '', label.length + 2))
  for (const paragraph of rest) lines.push(...wrap(paragraph, width, '  '))
  lines.push('', `Profile '${report.profile}', checked at ${formatTime(report.checkedAt, now)}, exit ${report.exitCode}.`, '')

  lines.push('Setup')
  lines.push(...stepTable(report.steps, paint, options.width, now))

  const r = report.replication
  if (r) {
    lines.push('', `Replication (${r.mode === 'gtid' ? 'GTID' : 'binlog file/position'} mode)`)
    const rows: Array<[string, string]> = []
    if (!r.reachable) {
      rows.push(['Replica', paint('red', `unreachable: ${r.error?.message ?? ''}`)])
    } else if (!r.linked) {
      rows.push(['Replica', `${r.replica.host}:${r.replica.port}, no replication source`])
    } else {
      rows.push(['IO thread', `${threadState(r.io, paint)}${r.ioState ? `  ${r.ioState}` : ''}`])
      rows.push(['SQL thread', `${threadState(r.sql, paint)}${r.sqlState ? `  ${r.sqlState}` : ''}`])
      rows.push(['Seconds_Behind_Master', r.secondsBehind === null ? 'NULL' : String(r.secondsBehind)])
    }
    const s = r.source
    rows.push([
      'Source now',
      s.gtid !== null || s.file !== null
        ? position(s.gtid, s.file, s.position)
        : paint('yellow', `not read: ${s.error?.message ?? 'unknown'}${s.reachable ? '' : ' Lag unknown.'}`),
    ])
    if (r.linked) {
      rows.push(['Replica executed', position(r.replica.gtidExecuted, r.replica.file, r.replica.position)])
      rows.push(['Lag', lagText(report)])
      rows.push(['Apply rate', rateText(report)])
      rows.push(['Catch-up', catchUpText(report)])
      rows.push(['Last IO error', r.errors.io ? paint('red', `${r.errors.io.errno}: ${r.errors.io.message}`) : 'none'])
      rows.push(['Last SQL error', r.errors.sql ? paint('red', `${r.errors.sql.errno}: ${r.errors.sql.message}`) : 'none'])
      if (r.hint && !report.summary.includes(r.hint.text)) rows.push(['What to do', r.hint.text])
    }
    const labelWidth = Math.max(...rows.map(([l]) => l.length))
    for (const [name, value] of rows) lines.push(...wrap(`  ${name.padEnd(labelWidth)}  ${value}`, width, '', labelWidth + 4))
  }

  if (report.next) lines.push('', `Next: ${report.next}`)
  return lines.join('\n')
}

function stepTable(steps: readonly StepStatus[], paint: Paint, width: number | undefined, now: Date): string[] {
  const header = ['Step', 'State', 'Started', 'Took', 'Outputs']
  const rows = steps.map((s) => [
    `${STEP_MARKS[s.state][0]} ${s.title}`,
    s.state,
    s.startedAt ? formatTime(s.startedAt, now) : '',
    s.seconds === null ? '' : formatDuration(s.seconds),
    s.summary ?? '',
  ])
  // Aligned by display width: a database named in the outputs may hold CJK or emoji.
  const [head = '', ...body] = tableLines([header, ...rows], {width})
  const out = [paint('gray', head)]
  steps.forEach((step, i) => {
    const text = body[i]!
    // Colour the mark and state only, after padding: escape codes have no width.
    const [mark, color] = STEP_MARKS[step.state]
    out.push(text.replace(`${mark} `, `${paint(color, mark)} `).replace(` ${step.state} `, ` ${paint(color, step.state)} `))
    if (step.progress) out.push(...wrap(copyProgressLine(step.progress, {live: step.state === 'running', now}), width ?? Number.POSITIVE_INFINITY, '      '))
    if (step.error && step.state !== 'done') {
      out.push(...wrap(paint(step.state === 'failed' ? 'red' : 'yellow', `${step.error.code}: ${step.error.message}`), width ?? Number.POSITIVE_INFINITY, '      '))
    }
  })
  return out
}

function threadState(state: string | null, paint: Paint): string {
  if (state === null) return 'unknown'
  // Padded before colouring: escape codes have no width.
  return paint(state === 'running' ? 'green' : state === 'connecting' ? 'yellow' : 'red', state.padEnd('connecting'.length))
}

function catchUpText(report: StatusReport): string {
  const r = report.replication!
  if (report.eta === 0) return 'caught up'
  if (report.eta !== null) return `in ≈ ${formatDuration(report.eta)}`
  if (r.sql === 'stopped') return 'not while the SQL thread is stopped'
  if (r.caughtUp === null) return 'unknown without the source'
  return report.applyRate ? 'not catching up: the replica applies no faster than the source writes' : 'measuring…'
}

function position(gtid: string | null, file: string | null, pos: number | null): string {
  const parts = [gtid ? `GTID ${gtid}` : gtid === '' ? 'GTID (empty)' : '', file ? `${file}:${pos}` : ''].filter(Boolean)
  return parts.length > 0 ? parts.join(', ') : 'unknown'
}

function lagText(report: StatusReport): string {
  const r = report.replication!
  const {lag} = r
  if (r.caughtUp === null && lag.transactions === null && lag.bytes === null && lag.files === null) {
    return `unknown without the source${lag.seconds !== null ? ` (Seconds_Behind_Master ${lag.seconds} s)` : ''}`
  }
  if (r.caughtUp) return 'none'
  const parts: string[] = []
  if (lag.transactions !== null) parts.push(plural(lag.transactions, 'transaction'))
  if (lag.bytes !== null) parts.push(formatBytes(lag.bytes))
  else if (lag.files) parts.push(plural(lag.files, 'binlog file'))
  const time = lag.seconds === null ? 'time unknown' : `≈ ${formatDuration(lag.seconds)}`
  return `${parts.join(', ') || 'unknown'} (${time})`
}

function rateText(report: StatusReport): string {
  const rate = report.applyRate
  if (!rate) return report.replication?.reachable ? 'measuring…' : 'unknown'
  const parts: string[] = []
  if (rate.transactionsPerSecond !== null) parts.push(`${formatRate(rate.transactionsPerSecond)} transactions/s`)
  if (rate.bytesPerSecond !== null) parts.push(`${formatBytes(Math.round(rate.bytesPerSecond))}/s`)
  const source = rate.sourceTransactionsPerSecond ?? null
  const written = source !== null ? `${formatRate(source)} transactions/s` : rate.sourceBytesPerSecond !== null ? `${formatBytes(Math.round(rate.sourceBytesPerSecond))}/s` : undefined
  return `${parts.join(', ') || 'unknown'}${written ? `; the source writes ${written}` : ''} (over ${formatDuration(rate.sampleSeconds)})`
}

/**
 * Splits `text` into lines of at most `width` visible characters at spaces (and at its own line
 * breaks), `indent` before the first and `hang` spaces before the others. Escape codes count as no width.
 */
export function wrap(text: string, width: number, indent = '', hang?: number): string[] {
  const pad = ' '.repeat(hang ?? indent.length)
  const visible = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').length // eslint-disable-line no-control-regex
  const lines: string[] = []
  text.split('\n').forEach((paragraph, p) => {
    let line = p === 0 ? indent : pad
    let lineHasWord = false
    for (const word of paragraph.split(' ')) {
      if (lineHasWord && visible(line) + 1 + visible(word) > width) {
        lines.push(line)
        line = pad + word
      } else {
        line += (lineHasWord ? ' ' : '') + word
      }
      lineHasWord = true
    }
    lines.push(line)
  })
  return lines
}
