import type {CheckResult, CheckStatus} from '../preflight/check.js'
import {terminalSafe} from './terminal-text.js'

const LABEL: Record<CheckStatus, string> = {pass: 'PASS', warn: 'WARN', fail: 'FAIL', 'not-run': 'SKIP', 'not-applicable': 'N/A '}

/** The preflight report as people read it: a line a check, then why, its offenders and its fix. */
export function renderChecks(checks: CheckResult[]): string {
  // Offenders and messages quote the servers' names and errors.
  const results = terminalSafe(checks)
  const lines: string[] = []
  const indent = ' '.repeat(8)
  for (const r of results) {
    lines.push(`  ${LABEL[r.status]}  ${r.title}`)
    lines.push(`${indent}${r.message}`)
    if (r.offenders && r.offenders.length > 0 && r.status !== 'pass') {
      for (const offender of r.offenders) lines.push(`${indent}- ${offender}`)
    }
    if (r.fix && (r.status === 'fail' || r.status === 'warn')) lines.push(`${indent}fix: ${r.fix.split('\n').join(`\n${indent}     `)}`)
  }
  return lines.join('\n')
}

