import {DatainError, ExitCode} from './errors.js'
import {registerSecret} from './redact.js'

/** How datain asks a person for what the command line did not give. */
export interface Prompter {
  value(question: string): Promise<string>
  /** Typed without echo. */
  password(question: string): Promise<string>
}

let prompter: Prompter | undefined

/**
 * Installed by the command layer (ui/prompt.ts) when a person is there to answer; without one (a
 * script, CI, a test calling a service) a missing value is bad input, never a wait for an answer.
 */
export function installPrompter(next: Prompter | undefined): void {
  prompter = next
}

/** A required setting: the value given, else a prompt on a terminal, else exit 2 naming the flag. */
export async function requireValue(value: string | undefined, flag: string, env: string, question: string): Promise<string> {
  if (value !== undefined && value !== '') return value
  if (prompter) return prompter.value(question)
  throw new DatainError(`${flag} is required: give it as a flag or in ${env}.`, {code: 'E_MISSING_SETTING', exit: ExitCode.usage})
}

/**
 * A password from its environment variable or a hidden prompt. There is deliberately no password
 * flag: a flag would put the secret in the process list and the shell history.
 */
export async function requirePassword(env: string, what: string): Promise<string> {
  let value = process.env[env]
  if (value === undefined || value === '') {
    if (!prompter) {
      throw new DatainError(
        `No password for ${what}: set ${env} in the environment (datain takes passwords only from the environment or a hidden prompt, never from a flag).`,
        {code: 'E_MISSING_PASSWORD', exit: ExitCode.usage},
      )
    }
    value = await prompter.password(`Password for ${what}`)
  }
  registerSecret(value)
  return value
}
