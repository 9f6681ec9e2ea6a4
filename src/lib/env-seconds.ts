import {DatainError, ExitCode} from './errors.js'

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
    throw new DatainError(`${name} must be a number of seconds above 0 and at most ${MAX_TIMER_SECONDS} (24 days); it is '${shownValue(text)}'.`, {
      code: 'E_BAD_INPUT',
      exit: ExitCode.usage,
    })
  }
  return seconds
}

/** An environment value for a one-line message: control characters as `?`, cut after 40 characters. */
export function shownValue(text: string): string {
  const plain = [...text].map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? '?' : c))
  return plain.length > 40 ? `${plain.slice(0, 40).join('')}…` : plain.join('')
}
