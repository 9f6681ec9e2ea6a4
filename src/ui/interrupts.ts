import {DatainError, type ExitCode} from '../lib/errors.js'

/** The signals that interrupt datain, with their numbers: the exit code is 128 + the number, as shells report it. */
export const INTERRUPT_SIGNALS = {SIGHUP: 1, SIGINT: 2, SIGTERM: 15} as const
export type InterruptSignal = keyof typeof INTERRUPT_SIGNALS

/** 130 for Ctrl-C (SIGINT), 143 for SIGTERM, 129 for SIGHUP. */
export function interruptExit(signal: InterruptSignal): ExitCode {
  // Outside product.md's 0-5 on purpose: an interrupt is not a verdict, and scripts know 128 + n.
  return (128 + INTERRUPT_SIGNALS[signal]) as ExitCode
}

/** What a command that was interrupted fails with: E_INTERRUPTED, exit 128 + the signal. */
export function interruptedBy(signal: InterruptSignal): DatainError {
  return new DatainError(`datain was interrupted (${signal}).`, {code: 'E_INTERRUPTED', exit: interruptExit(signal)})
}

export interface InterruptOptions {
  /**
   * What a signal after the first does. `exit`: datain ends at once (the first one asked for a clean
   * stop; a second means "now"). `wait`: nothing but a note, for a command that must put back what it
   * changed before it ends (stop's cutover: the source read-only).
   */
  again: 'exit' | 'wait'
  /** The note for the first signal, if any (stderr, people only). */
  first?: (signal: InterruptSignal) => string
  /** The note for a later signal under `wait`. */
  waiting?: (signal: InterruptSignal) => string
}

export interface InterruptHooks {
  /** A line for people on stderr (silent under --json). */
  note(line: string): void
  /** Ends the process at once with this error: the command's JSON or message, then its exit code. */
  exitNow(error: DatainError): never
}

/**
 * The one signal handler of every datain command. Until the command takes {@link Interrupts.signal}
 * it has nothing to abort, so the first signal ends it at once; once it has, the first signal aborts
 * it and the command ends cleanly on its own (its error then carries exit 128 + the signal).
 *
 * `process.on`, never `once`: execa's child cleanup (signal-exit) re-raises a signal that finds no
 * listener but its own, and a `once` listener is removed before the others run, so the first Ctrl-C
 * or SIGTERM killed datain mid-copy instead of interrupting it.
 */
export class Interrupts {
  readonly #controller = new AbortController()
  readonly #hooks: InterruptHooks
  #options: InterruptOptions | undefined
  #received: InterruptSignal | undefined
  readonly #listener = (signal: NodeJS.Signals) => this.#on(signal as InterruptSignal)

  constructor(hooks: InterruptHooks) {
    this.#hooks = hooks
    for (const signal of Object.keys(INTERRUPT_SIGNALS)) process.on(signal, this.#listener)
  }

  /** The first signal received, if any. */
  get received(): InterruptSignal | undefined {
    return this.#received
  }

  /** Takes over the first signal: it aborts the returned signal instead of ending datain. */
  signal(options: InterruptOptions): AbortSignal {
    this.#options = options
    return this.#controller.signal
  }

  /** Removes the handler (the command has ended). */
  dispose(): void {
    for (const signal of Object.keys(INTERRUPT_SIGNALS)) process.off(signal, this.#listener)
  }

  #on(signal: InterruptSignal): void {
    const first = this.#received === undefined
    this.#received ??= signal
    const options = this.#options
    if (options === undefined) this.#hooks.exitNow(interruptedBy(signal))
    if (!first) {
      if (options.again === 'exit') this.#hooks.exitNow(interruptedBy(signal))
      if (options.waiting) this.#hooks.note(options.waiting(signal))
      return
    }
    if (options.first) this.#hooks.note(options.first(signal))
    this.#controller.abort(interruptedBy(signal))
  }
}
