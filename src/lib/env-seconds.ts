import {DatainError, ExitCode} from './errors.js'
import {shown} from './validate.js'

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer one fires at once, so it is refused. */
export const MAX_TIMER_MS = 2 ** 31 - 1
/** The longest wait in whole seconds that a timer holds: the bound of every seconds setting. */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000)

/**
 * A number of seconds from the environment variable `name`, or `fallback` when it is unset or
 * blank; anything but a number above 0 and at most {@link MAX_TIMER_SECONDS} is bad input (exit 2)
 * naming the variable.
 */
export function secondsFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const text = env[name]
  if (text === undefined || text.trim() === '') return fallback
  const seconds = Number(text)
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_TIMER_SECONDS) {
    throw new DatainError(`${name} must be a number of seconds above 0 and at most ${MAX_TIMER_SECONDS} (24 days); it is ${shown(text)}.`, {
      code: 'E_BAD_INPUT',
      exit: ExitCode.usage,
    })
  }
  return seconds
}

/**
 * A number of milliseconds from `name`, or `fallback` when unset or blank; anything but a whole
 * number from 1 to {@link MAX_TIMER_MS} is bad input (exit 2): a typo must not silently mean the default.
 */
export function millisecondsFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const text = env[name]
  if (text === undefined || text.trim() === '') return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    throw new DatainError(`${name} must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}; it is ${shown(text)}.`, {
      code: 'E_BAD_INPUT',
      exit: ExitCode.usage,
    })
  }
  return value
}

/** The timeouts read from the environment deep inside a run (DATAIN_CUTOVER_TIMEOUT: read by stop --cutover first thing). */
const SECONDS_SETTINGS = ['DATAIN_QUERY_TIMEOUT', 'DATAIN_STALL_TIMEOUT']
const MILLISECONDS_SETTINGS = ['DATAIN_ARM_TIMEOUT_MS']

/**
 * Checks every timeout setting of the environment at a command's start, so that a bad one is
 * refused before anything is done (a run would otherwise fail on it halfway, with a step recorded as failed).
 */
export function checkTimeoutSettings(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of SECONDS_SETTINGS) secondsFromEnv(name, 1, env)
  for (const name of MILLISECONDS_SETTINGS) millisecondsFromEnv(name, 1, env)
}
