import {input, password} from '@inquirer/prompts'
import {DatainError, ExitCode} from './errors.js'
import {registerSecret} from './redact.js'

/** Prompts only when a person is there to answer: both stdin and stderr are terminals. */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY) && !process.env.CI
}

/** A required setting: the value given, else a prompt on a terminal, else exit 2 naming the flag. */
export async function requireValue(value: string | undefined, flag: string, env: string, question: string): Promise<string> {
  if (value !== undefined && value !== '') return value
  if (canPrompt()) return input({message: question, required: true}, {output: process.stderr})
  throw new DatainError(`${flag} is required: give it as a flag or in ${env}.`, {code: 'E_MISSING_SETTING', exit: ExitCode.usage})
}

/**
 * A password from its environment variable or a hidden prompt. There is deliberately no password
 * flag: a flag would put the secret in the process list and the shell history.
 */
export async function requirePassword(env: string, what: string): Promise<string> {
  let value = process.env[env]
  if (value === undefined || value === '') {
    if (!canPrompt()) {
      throw new DatainError(
        `No password for ${what}: set ${env} in the environment (datain takes passwords only from the environment or a hidden prompt, never from a flag).`,
        {code: 'E_MISSING_PASSWORD', exit: ExitCode.usage},
      )
    }
    value = await password({message: `Password for ${what}`, mask: false}, {output: process.stderr})
  }
  registerSecret(value)
  return value
}
