import {Flags} from '@oclif/core'
import type {CheckResult, CheckStatus} from '../preflight/check.js'
import {listText, plural} from '../lib/format.js'
import {type Color, type Paint, plain} from './paint.js'
import {indentLines, terminalLine, terminalSafe} from './terminal-text.js'

// One word per outcome, the words of the summary line ("6 not run"), padded to one width.
const LABEL: Record<CheckStatus, [string, Color]> = {
  pass: ['PASS   ', 'green'],
  warn: ['WARN   ', 'yellow'],
  fail: ['FAIL   ', 'red'],
  'not-run': ['NOT RUN', 'yellow'],
  'not-applicable': ['N/A    ', 'gray'],
}
const INDENT = ' '.repeat(11)

export interface CheckReportOptions {
  paint?: Paint
  /** Every check on its own; by default passed and not-applicable ones are counted on one line each. */
  verbose?: boolean
  /** One line a check (start's preflight): no offenders, no fix, no failed check (the step's error lists them). */
  brief?: boolean
}

/** The preflight report as people read it: a line a check, then why, its offenders and its fix. */
export function renderChecks(checks: CheckResult[], options: CheckReportOptions = {}): string {
  const {paint = plain, verbose = false, brief = false} = options
  // Offenders and messages quote the servers' names and errors.
  const results = terminalSafe(checks)
  const label = (status: CheckStatus) => `  ${paint(LABEL[status][1], LABEL[status][0])}  `
  const lines: string[] = []
  for (const status of ['pass', 'not-applicable'] as const) {
    const n = results.filter((r) => r.status === status).length
    if (verbose || n === 0) continue
    const what = status === 'pass' ? `${plural(n, 'check')} passed` : `${plural(n, 'check')} not applicable to this target`
    lines.push(`${label(status)}${what} (--verbose lists ${n === 1 ? 'it' : 'them'})`)
  }
  for (const r of verbose ? results : groupNotRun(results)) {
    if (!verbose && (r.status === 'pass' || r.status === 'not-applicable')) continue
    if (brief) {
      // A failed check stops the step, whose error lists it with its fix: not said twice.
      if (r.status !== 'fail') lines.push(`${label(r.status)}${r.title}: ${indentLines(r.message, INDENT)}`)
      continue
    }
    // Every line of a check's text is indented under its label: a line feed in a server's name or
    // error it quotes cannot start a line that reads as another check's.
    lines.push(`${label(r.status)}${r.title}`, `${INDENT}${indentLines(r.message, INDENT)}`)
    // Offenders the message names already are not listed twice.
    const offenders = r.status === 'pass' ? [] : (r.offenders ?? [])
    if (offenders.length > 0 && !offenders.every((o) => r.message.includes(o))) {
      for (const offender of offenders) lines.push(`${INDENT}- ${terminalLine(offender)}`)
    }
    if (r.fix && (r.status === 'fail' || r.status === 'warn')) lines.push(`${INDENT}fix: ${indentLines(r.fix, `${INDENT}     `)}`)
  }
  return lines.join('\n')
}

/**
 * Checks not run for one reason (the replica's firewall, --no-arm) as one entry that names them all:
 * six times "needs the replica" said once.
 */
function groupNotRun(results: CheckResult[]): CheckResult[] {
  const groups = new Map<string, CheckResult[]>()
  for (const r of results) if (r.status === 'not-run') groups.set(r.message, [...(groups.get(r.message) ?? []), r])
  const out: CheckResult[] = []
  for (const r of results) {
    const group = r.status === 'not-run' ? groups.get(r.message)! : [r]
    if (group[0] !== r) continue
    out.push(group.length === 1 ? r : {...r, title: `${plural(group.length, 'check')}: ${listText(group.map((g) => g.title), 12)}`, offenders: undefined})
  }
  return out
}

/** `--verbose` (DATAIN_VERBOSE=1) of the commands that show checks: init, and start's preflight. */
export const verboseFlag = Flags.boolean({
  summary: 'List every check, passed ones too (without it, they are counted on one line).',
  env: 'DATAIN_VERBOSE',
  default: false,
})
