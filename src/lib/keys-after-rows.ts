import {DatainError, ExitCode} from './errors.js'
import {shown} from './validate.js'

export const KEYS_AFTER_ROWS_ENV = 'DATAIN_KEYS_AFTER_ROWS_MB'
/** The default size from which a table's plain indexes are built after its rows (MB of 1,048,576 bytes). */
export const DEFAULT_KEYS_AFTER_ROWS_MB = 16
const MB = 1024 * 1024

/**
 * The size in bytes (InnoDB's estimate) from which a table's non-unique indexes are built after its
 * rows: `DATAIN_KEYS_AFTER_ROWS_MB` megabytes, or 16 when it is unset or blank; 0 takes every table
 * that can; `off` none (Infinity), for a replica whose temporary space cannot hold an index's sort.
 * Anything else is bad input (exit 2) naming the variable.
 */
export function keysAfterRowsBytes(env: NodeJS.ProcessEnv = process.env): number {
  const text = env[KEYS_AFTER_ROWS_ENV]
  if (text === undefined || text.trim() === '') return DEFAULT_KEYS_AFTER_ROWS_MB * MB
  if (text.trim().toLowerCase() === 'off') return Number.POSITIVE_INFINITY
  // Digits only: no sign, exponent or hex (Number() takes '0x10' and '1e3').
  const mb = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : Number.NaN
  if (!Number.isFinite(mb)) {
    throw new DatainError(
      `${KEYS_AFTER_ROWS_ENV} must be a size in MB, 0 or more (tables at least this large get their plain indexes built after their rows), ` +
        `or 'off' to build every index with its table (it is ${shown(text)}).`,
      {code: 'E_BAD_INPUT', exit: ExitCode.usage},
    )
  }
  return mb * MB
}
