import {Command, Errors, Flags, type Interfaces} from '@oclif/core'
import {checkTimeoutSettings} from '../lib/env-seconds.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import type {StepUi} from '../steps/step.js'
import {redact, redactValue} from '../lib/redact.js'
import {type InterruptOptions, Interrupts, interruptExit} from './interrupts.js'
import {installTerminalPrompts} from './prompt.js'
import {stderrUi} from './step-ui.js'
import {terminalText} from './terminal-text.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>

/**
 * What every datain command shares: `--profile`, `--json`, and errors that always carry
 * product.md's exit code, never a stack trace (unless DATAIN_DEBUG=1), never a secret.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    profile: Flags.string({
      char: 'p',
      summary: 'Name of the replication profile.',
      env: 'DATAIN_PROFILE',
      default: 'default',
      helpGroup: 'GLOBAL',
    }),
  }

  protected flags!: BaseFlags<T>

  #interrupts: Interrupts | undefined

  override async init(): Promise<void> {
    await super.init()
    checkTimeoutSettings()
    installTerminalPrompts()
    this.#interrupts = new Interrupts({
      note: (line) => this.logToStderr(line),
      exitNow: (error) => {
        if (this.jsonEnabled()) this.logJson(this.toErrorJson(error))
        else process.stderr.write(`${error.message}\n`)
        // eslint-disable-next-line no-restricted-properties -- the UI, not library code: a second signal means "now", nothing more is awaited.
        process.exit(error.exitCode)
      },
    })
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    this.#interrupts?.dispose()
    return super.finally(error)
  }

  /**
   * The command's cancel signal: the first Ctrl-C, SIGTERM or SIGHUP aborts it, and the command then
   * fails with exit 128 + the signal (130 for Ctrl-C). A command that never asks for it is ended at
   * once by the first signal, with the same exit code.
   */
  protected abortSignal(options: InterruptOptions = {again: 'exit'}): AbortSignal {
    if (!this.#interrupts) throw new Error('abortSignal() before init()')
    return this.#interrupts.signal(options)
  }

  /** Where profiles live: DATAIN_HOME, else oclif's data dir (~/.local/share/datain). */
  protected get home(): string {
    return process.env.DATAIN_HOME || this.config.dataDir
  }

  protected override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    const signal = this.#interrupts?.received
    // Whatever the command failed with once a signal had aborted it, the signal is why it ended.
    const known = signal ? withExit(toKnownError(error), interruptExit(signal)) : toKnownError(error)
    process.exitCode = known.exitCode
    if (this.jsonEnabled()) {
      this.logJson(this.toErrorJson(known))
      return
    }
    // A server's error text quoted in the message must not drive the terminal; --json above keeps it exact.
    throw forTerminal(known)
  }

  protected override toErrorJson(error: unknown): unknown {
    const e = error as DatainError
    return {error: redactValue({code: e.code, exit: e.exitCode, message: e.message, suggestions: e.suggestions ?? []})}
  }

  protected override toSuccessJson<R>(result: R): R {
    return redactValue(result)
  }

  /** Step progress for people, on stderr; silent under --json. `verbose`: every preflight check, passed ones too. */
  protected stepUi(options: {verbose?: boolean} = {}): StepUi {
    return stderrUi({quiet: this.jsonEnabled(), verbose: options.verbose})
  }

  /** Progress and notes for people: stderr, so that stdout stays the result (and pure JSON under --json). */
  protected note(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(terminalText(redact(message)) + '\n')
  }
}

/** Every error as a DatainError: oclif's own (bad flags) keep their exit 2, anything else is a bug. */
export function toKnownError(error: Error & {exitCode?: number}): DatainError {
  if (error instanceof DatainError) return redactError(error)
  if (error instanceof Errors.CLIError) {
    const exit = (error.oclif?.exit ?? ExitCode.usage) as ExitCode
    return new DatainError(redact(oneParagraph(error.message)), {code: error.code ?? 'E_USAGE', exit, suggestions: error.suggestions})
  }
  if (process.env.DATAIN_DEBUG) console.error(error)
  return new DatainError(
    redact(
      `datain stopped on an unexpected error: ${error.message}. This is a bug in datain; run the command again with ` +
        'DATAIN_DEBUG=1 to see where it happened, and report it.',
    ),
    {code: 'E_INTERNAL', exit: ExitCode.failed},
  )
}

function forTerminal(error: DatainError): DatainError {
  // Without its cause: oclif (4.14+) prints an error's cause chain ("Caused by: …"), which is a
  // driver's or the SDK's own words, unredacted, after datain's one paragraph. DATAIN_DEBUG shows it.
  const plain = new DatainError(terminalText(error.message), {code: error.code ?? 'E_UNKNOWN', exit: error.exitCode, suggestions: error.suggestions?.map(terminalText)})
  if (process.env.DATAIN_DEBUG) plain.cause = error.cause
  return plain
}

function withExit(error: DatainError, exit: ExitCode): DatainError {
  if (error.exitCode === exit) return error
  return new DatainError(error.message, {code: error.code ?? 'E_INTERRUPTED', exit, suggestions: error.suggestions, cause: error.cause})
}

function redactError(error: DatainError): DatainError {
  const message = redact(error.message)
  if (message === error.message) return error
  return new DatainError(message, {code: error.code ?? 'E_UNKNOWN', exit: error.exitCode, suggestions: error.suggestions?.map(redact)})
}

/**
 * oclif's parse errors as one paragraph, as datain's own: "Parsing --timeout \n\tExpected an
 * integer but received: abc\nSee more help with --help" reads "--timeout: expected an integer but
 * received: abc. See more help with --help".
 */
export function oneParagraph(message: string): string {
  const parsing = /^Parsing (--[\w-]+|[\w-]+)\s*\n\s*(\S)/.exec(message)
  const text = parsing ? `${parsing[1]}: ${parsing[2]!.toLowerCase()}${message.slice(parsing[0].length)}` : message
  return text
    .split(/\s*\n\s*/)
    .filter(Boolean)
    .map((line, i, lines) => (i < lines.length - 1 && !/[.:!?]$/.test(line) ? `${line}.` : line))
    .join(' ')
}
