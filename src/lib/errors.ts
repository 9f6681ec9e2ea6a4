import {Errors} from '@oclif/core'

/** Exit codes of product.md: scripts and monitoring depend on them, never renumber. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  broken: 3,
  unreachable: 4,
  lagging: 5,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

export interface DatainErrorOptions {
  /** One stable code per failure mode, e.g. `E_SOURCE_AUTH`; shown under `--json`. */
  code: string
  exit: ExitCode
  /** The fix, or the next command to run. */
  suggestions?: string[]
  cause?: unknown
}

/**
 * An expected failure the user can do something about. Its message is one paragraph naming what is
 * wrong; anything thrown that is not a DatainError is a bug.
 */
export class DatainError extends Errors.CLIError {
  readonly exitCode: ExitCode

  constructor(message: string, options: DatainErrorOptions) {
    super(message, {code: options.code, exit: options.exit, suggestions: options.suggestions})
    this.exitCode = options.exit
    if (options.cause !== undefined) this.cause = options.cause
  }
}

export function isDatainError(error: unknown): error is DatainError {
  return error instanceof DatainError
}
