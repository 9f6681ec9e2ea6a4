/** How long `datain stop --cutover` waits for the replica to catch up, unless --timeout says otherwise. */
export const DEFAULT_CUTOVER_TIMEOUT_MS = 10 * 60_000

/**
 * `DATAIN_CUTOVER_TIMEOUT` (seconds), read only for a cutover: as an oclif `env` of --timeout it would
 * count as the flag given, and a script that exports it would find every plain `datain stop` refused
 * (--timeout without --cutover is a usage error).
 */
export const CUTOVER_TIMEOUT_ENV = 'DATAIN_CUTOVER_TIMEOUT'
