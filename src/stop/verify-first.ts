import type {Session} from '../engine/session.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {flag} from './refusals.js'
import type {StopOptions} from './run-stop.js'

/**
 * `stop --cutover --verify`: the replica compared with the source (see src/verify) while it still
 * replicates, after the catch-up; throws E_CUTOVER_DIFFERS (exit 1) when they differ, so that the
 * cutover puts everything back and keeps the link.
 */
export async function verifyBeforeCutover(session: Session, options: StopOptions): Promise<string> {
  const {verifySession} = await import('../verify/run-verify.js')
  options.ui.info('Comparing the replica with the source before the link is removed (--verify)…')
  const result = await verifySession(session, {signal: options.signal})
  if (!result.identical) {
    const tables = result.tables.filter((t) => t.differencesTotal > 0 || t.missingOnReplica || t.columnsDiffer).map((t) => t.table)
    throw new DatainError(
      `The replica differs from the source: ${result.differencesTotal.toLocaleString('en-US')} row${result.differencesTotal === 1 ? '' : 's'} ` +
        `in ${tables.join(', ')}. The cutover did not happen and the replication link stays in place. ` +
        `Run 'datain verify${flag(options.profile)}' for the keys, repair the replica, then run the cutover again.`,
      {code: 'E_CUTOVER_DIFFERS', exit: ExitCode.failed, suggestions: [`datain verify${flag(options.profile)} --json`]},
    )
  }
  return `the replica is identical to the source (${result.tablesCompared} table${result.tablesCompared === 1 ? '' : 's'}, ${result.rowsCompared.toLocaleString('en-US')} rows compared)`
}
