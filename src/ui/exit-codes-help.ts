import {ExitCode} from '../lib/errors.js'

type ExitName = keyof typeof ExitCode

/**
 * The "Exit codes" paragraph of a command's help, numbered from {@link ExitCode} so that the help can
 * never show a number the code does not use. Each command says what each of its codes means for it.
 */
export function exitCodesHelp(meanings: Partial<Record<ExitName, string>>): string {
  const lines = (Object.keys(ExitCode) as ExitName[])
    .filter((name) => meanings[name] !== undefined)
    .map((name) => `  ${ExitCode[name]}  ${meanings[name]}`)
  return ['Exit codes:', ...lines].join('\n')
}

/** What exit 2 and 4 mean for every command that reads a profile and talks to the servers. */
export const COMMON_EXITS = {
  usage: 'bad usage or input (a flag, a profile that does not exist); nothing was changed',
  unreachable: 'a server or Azure unreachable, or credentials refused',
} as const satisfies Partial<Record<ExitName, string>>
