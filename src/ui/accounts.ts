import type {AccountResult, AccountsResult} from '../accounts/run-accounts.js'
import {indentLines, terminalLine, terminalSafe} from './terminal-text.js'

const VERB: Record<AccountResult['action'], string> = {
  create: 'created',
  unchanged: 'already the same on the replica: nothing to do',
  differs: 'exists on the replica with other grants: left alone (--replace makes it as on the source)',
  replace: 'replaced',
  complete: 'created by an earlier run that stopped half-way: completed',
  failed: 'FAILED',
  skipped: 'not copied',
}

const DRY_VERB: Partial<Record<AccountResult['action'], string>> = {
  create: 'would be created',
  replace: 'would be replaced',
  complete: 'created by an earlier run that stopped half-way: would be completed',
}

/** The result for people: one paragraph per account, then what was left out, account by account. */
export function renderAccounts(accountsResult: AccountsResult): string {
  // Account names, grants and the replica's errors are the servers' text: no control reaches the
  // terminal, and a line feed in one stays inside its account's indented block.
  const result = terminalSafe(accountsResult)
  if (result.accounts.length === 0) return 'No account or role of the source to copy.'
  const lines: string[] = []
  const detail = (text: string) => `    ${indentLines(text, '      ')}`
  for (const a of result.accounts) {
    const kind = a.role ? 'role ' : ''
    lines.push(`${kind}${terminalLine(a.account)}: ${(result.dryRun && DRY_VERB[a.action]) || VERB[a.action]}`)
    if (a.action === 'differs' || a.action === 'replace' || a.action === 'complete') for (const d of a.differences) lines.push(detail(d))
    for (const s of a.statements) lines.push(detail(`${s};`))
    if (a.error) lines.push(detail(`refused: ${a.error}`))
    for (const l of a.leftOut) lines.push(detail(`left out: ${l}`))
  }
  const leftOut = result.accounts.filter((a) => a.leftOut.length > 0).length
  const failed = result.accounts.filter((a) => a.action === 'failed').length
  const alone = result.accounts.filter((a) => a.action === 'differs').length
  const summary = [
    `${result.accounts.length} account(s) and role(s)`,
    leftOut ? `${leftOut} with privileges left out` : '',
    alone ? `${alone} left alone` : '',
    failed ? `${failed} failed` : '',
  ].filter(Boolean)
  lines.push('', (result.dryRun ? 'Dry run, nothing changed: ' : '') + summary.join(', ') + '.')
  return lines.join('\n')
}
