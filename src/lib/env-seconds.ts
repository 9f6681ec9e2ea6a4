import {DatainError, ExitCode} from './errors.js'

/**
 * A number of seconds from the environment variable `name`, or `fallback` when it is unset or
 * blank; anything but a number above 0 is bad input (exit 2) naming the variable.
 */
export function secondsFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const text = env[name]
  if (text === undefined || text.trim() === '') return fallback
  const seconds = Number(text)
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new DatainError(`${name} must be a number of seconds above 0 (it is '${text}').`, {code: 'E_BAD_INPUT', exit: ExitCode.usage})
  }
  return seconds
}
