import type {StepUi} from '../steps/step.js'
import {redact} from '../lib/redact.js'
import {terminalText} from './terminal-text.js'

/**
 * Progress on stderr. On a terminal a status line rewrites itself in place; in a log (no terminal)
 * status lines are written at most every `logEveryMs`, so that a long copy does not flood it.
 */
export function stderrUi(options: {quiet: boolean; logEveryMs?: number}): StepUi {
  const tty = Boolean(process.stderr.isTTY)
  const every = options.logEveryMs ?? 10_000
  let statusShown = false
  let lastLogged = 0
  const clearStatus = () => {
    if (statusShown) process.stderr.write('\r\x1b[2K')
    statusShown = false
  }
  const info = (message: string) => {
    if (options.quiet) return
    clearStatus()
    process.stderr.write(`${terminalText(redact(message))}\n`)
  }
  return {
    info,
    warn: info,
    status(message) {
      if (options.quiet) return
      const text = terminalText(redact(message))
      if (tty) {
        const width = process.stderr.columns ?? 100
        process.stderr.write(`\r\x1b[2K  ${text.slice(0, width - 3)}`)
        statusShown = true
        return
      }
      if (Date.now() - lastLogged < every) return
      lastLogged = Date.now()
      process.stderr.write(`  ${text}\n`)
    },
  }
}
