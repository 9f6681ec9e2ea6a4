import type {SetupResult} from '../setup/run-setup.js'
import {formatDuration} from '../lib/format.js'
import {terminalSafe} from './terminal-text.js'

/** `datain start --dry-run`: each step and what it would do; nothing was changed. */
export function renderPlan(setup: SetupResult): string {
  // The plan quotes SQL with the servers' names in it.
  const result = terminalSafe(setup)
  const lines = [`Plan for profile '${result.profile}' (nothing was changed):`]
  for (const step of result.steps) {
    if (step.result === 'skipped') {
      lines.push(`  ${step.title}: already done`)
      continue
    }
    lines.push(`  ${step.title}:`)
    for (const action of step.plan ?? []) lines.push(`    [${action.on} ${action.kind}] ${action.text.split('\n').join('\n      ')}`)
  }
  return lines.join('\n')
}

/** `datain start`: what ran, what had been done before, and where replication stands. */
export function renderSetup(setup: SetupResult): string {
  const result = terminalSafe(setup)
  const lines = [`Setup of profile '${result.profile}':`]
  const width = Math.max(...result.steps.map((s) => s.title.length))
  for (const step of result.steps) {
    const how = step.result === 'skipped' ? 'done earlier' : step.seconds === undefined ? 'done' : `done in ${formatDuration(step.seconds)}`
    lines.push(`  ✔ ${step.title.padEnd(width)}  ${how}`)
  }
  lines.push('', "Replication is running. Watch it with 'datain status'.")
  return lines.join('\n')
}
