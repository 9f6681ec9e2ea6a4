import {ExitCode} from '../lib/errors.js'
import {interruptExit} from './interrupts.js'

type ExitName = keyof typeof ExitCode

/** What the exit codes of an interrupt mean, the same for every command (see interrupts.ts). */
export const INTERRUPTED_EXIT =
  `interrupted by Ctrl-C; ${interruptExit('SIGTERM')} by SIGTERM, ${interruptExit('SIGHUP')} by SIGHUP (128 + the signal's number)`

/**
 * The "Exit codes" paragraph of a command's help, numbered from {@link ExitCode} so that the help can
 * never show a number the code does not use. Each command says what each of its codes means for it;
 * the interrupt's code, the same for all, ends the list.
 */
export function exitCodesHelp(meanings: Partial<Record<ExitName, string>>, interrupted: string = INTERRUPTED_EXIT): string {
  const lines = (Object.keys(ExitCode) as ExitName[])
    .filter((name) => meanings[name] !== undefined)
    .map((name) => `  ${ExitCode[name]}  ${meanings[name]}`)
  return ['Exit codes:', ...lines, `  ${interruptExit('SIGINT')}  ${interrupted}`].join('\n')
}

/** What exit 2 and 4 mean for every command that reads a profile and talks to the servers. */
export const COMMON_EXITS = {
  usage: 'bad usage or input (a flag, a profile that does not exist); nothing was changed',
  unreachable: 'a server or Azure unreachable, or credentials refused',
} as const satisfies Partial<Record<ExitName, string>>
