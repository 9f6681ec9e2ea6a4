import {hintControls} from '../replication/hints.js'
import {setTimeout as sleep} from 'node:timers/promises'
import type {Connection} from 'mariadb'
import {openSession, type Session} from '../engine/session.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {existingReplicationPassword} from '../state/passwords.js'
import {redact} from '../lib/redact.js'
import {brokenError, threadFailure} from '../replication/catch-up.js'
import {replicationHint} from '../replication/hints.js'
import {gtidGaps, gtidIncludes} from '../replication/position.js'
import type {ReplicationTexts} from '../targets/target.js'
import {type ReplicaStatus, readGtidSlavePos, readReplicaStatus} from '../replication/slave-status.js'
import type {StepUi} from '../steps/step.js'
import {inspectLink} from '../replication/link-state.js'
import {removedRecord} from '../state/stop-records.js'

/** One event of the transaction to skip, as the source's SHOW BINLOG EVENTS lists it. */
export interface BinlogEvent {
  type: string
  info: string
}

/** The transaction the replica's SQL thread failed on: what a skip drops. */
export interface FailedTransaction {
  errno: number
  error: string
  /** Its GTID: from the error text, the source's binlog, or the next one the replica received; null in file mode when unknown. */
  gtid: string | null
  /** Where it begins in the source's binary log (`Relay_Master_Log_File:Exec_Master_Log_Pos`). */
  sourceFile: string
  sourcePosition: number
  /** The replica's `@@gtid_slave_pos` (applied) and `Gtid_IO_Pos` (received). */
  gtidSlavePos: string
  gtidIoPos: string
  /** Its events, read from the source's binary log; null when datain could not read them (see `eventsNote`). */
  events: BinlogEvent[] | null
  eventsNote?: string
}

/** `datain skip`'s result (`--json`). */
export interface SkipResult {
  profile: string
  skipped: FailedTransaction
  skippedAt: string
  statement: string
  /** The replica after the skip: replication runs again. */
  after: {ioThread: ReplicaStatus['ioThread']; sqlRunning: boolean; gtidSlavePos: string}
}

export interface SkipOptions {
  home: string
  profile: string
  /**
   * Asked once the failing transaction is known; resolves true to skip it. The command asks on a
   * terminal, answers yes for --yes, and throws E_CONFIRMATION_NEEDED (exit 2) with neither.
   */
  confirm(transaction: FailedTransaction, summary: string): Promise<boolean>
  ui: StepUi
  /** How long to watch the replica after the skip. Default 10 s. */
  settleMs?: number
}

const MAX_EVENTS = 50
const GTID_IN_TEXT = /\bGtid (\d+-\d+-\d+)/

/**
 * `datain skip`: when the replica's SQL thread stopped on an error, shows that error and the
 * transaction it failed on (its GTID and events, read from the source's binary log), asks, calls
 * `az_replication_skip_counter` (one transaction), records it in the journal, and checks that
 * replication runs again; it stopping on the next transaction is E_REPLICATION_BROKEN (exit 3).
 * Nothing to skip (no link, SQL thread running or stopped without an error, an IO error that a skip
 * cannot help) is exit 2.
 */
export async function runSkip(options: SkipOptions): Promise<SkipResult> {
  const session = await openSession({home: options.home, profile: options.profile, lockFor: 'skip', note: (m) => options.ui.info(m)})
  try {
    const checkpoint = await session.store.readCheckpoint()
    const removed = removedRecord(checkpoint)
    if (removed) {
      throw new DatainError(`Nothing to skip: the replication link of profile '${options.profile}' was removed at ${removed.output.removedAt}.`, {
        code: 'E_NOTHING_TO_SKIP',
        exit: ExitCode.usage,
      })
    }
    // Before the replica is reached: until the link step, its firewall may not even let datain in.
    if (checkpoint.steps.link?.state !== 'done') {
      throw nothingToSkip(`the setup of profile '${options.profile}' has not linked the replica to the source yet ('datain start' does)`)
    }
    const replica = await session.replica()
    const link = await inspectLink(replica, session.settings)
    if (link.kind === 'none') throw nothingToSkip('the replica has no replication link')
    if (link.kind === 'other') {
      throw new DatainError(
        `The replica replicates from ${link.status.masterHost}:${link.status.masterPort}, not from the source of profile '${options.profile}': datain does not skip transactions of a link it did not make.`,
        {code: 'E_REPLICA_LINKED', exit: ExitCode.failed},
      )
    }
    const status = link.status
    if (status.sqlRunning) throw nothingToSkip("the replica's SQL thread runs")
    if (status.lastSqlErrno === 0) {
      const io = threadFailure(status)
      if (io) throw nothingToSkip(`the SQL thread has no error; the IO thread has (error ${io.errno}: ${io.message.trim()}), and skipping a transaction does not help with that`)
      throw nothingToSkip("replication is stopped without an error (datain stop, or by hand); 'datain start' starts it again")
    }

    const controls = await session.target.replication.open(replica, ['skip'])
    // The source's binary log may hold the replication password (CREATE USER in clear, when the source validates passwords).
    await existingReplicationPassword(session.store).catch(() => undefined)
    const transaction = await failedTransaction(session, replica, status)
    const summary = describeTransaction(transaction, controls, options.profile)
    options.ui.info(summary)
    if (!(await options.confirm(transaction, summary))) {
      throw new DatainError('Not skipped: the replica stays stopped on the error.', {code: 'E_SKIP_DECLINED', exit: ExitCode.failed})
    }

    const statement = controls.statement('skip')
    await controls.skip()
    const skippedAt = new Date().toISOString()
    await session.store.journal('replication-skip', {statement, ...transaction, events: transaction.events?.map((e) => `${e.type}: ${e.info}`) ?? null})
    options.ui.info(`Skipped ${transaction.gtid ? `transaction ${transaction.gtid}` : `the transaction at ${transaction.sourceFile}:${transaction.sourcePosition}`}; watching the replica…`)
    const after = await settle(replica, transaction, controls, options)
    options.ui.info('Replication runs again.')
    return {profile: options.profile, skipped: transaction, skippedAt, statement, after}
  } finally {
    await session.close()
  }
}

function nothingToSkip(why: string): DatainError {
  return new DatainError(`Nothing to skip: ${why}. 'datain skip' skips the one transaction the replica's SQL thread stopped on.`, {
    code: 'E_NOTHING_TO_SKIP',
    exit: ExitCode.usage,
  })
}

async function failedTransaction(session: Session, replica: Connection, status: ReplicaStatus): Promise<FailedTransaction> {
  const gtidSlavePos = await readGtidSlavePos(replica)
  const base: FailedTransaction = {
    errno: status.lastSqlErrno,
    error: redact(status.lastSqlError.trim()),
    gtid: GTID_IN_TEXT.exec(status.lastSqlError)?.[1] ?? null,
    sourceFile: status.relayMasterLogFile,
    sourcePosition: status.execMasterLogPos,
    gtidSlavePos,
    gtidIoPos: status.gtidIoPos,
    events: null,
  }
  try {
    base.events = await sourceEvents(await session.source(), status.relayMasterLogFile, status.execMasterLogPos)
    const begin = base.events.find((e) => /^Gtid$/i.test(e.type))
    base.gtid ??= /\bGTID (\d+-\d+-\d+)/i.exec(begin?.info ?? '')?.[1] ?? null
  } catch (error) {
    base.eventsNote = `datain could not read the transaction from the source's binary log: ${redact((error as Error)?.message ?? String(error))}`
  }
  // Without the source: in GTID mode the next GTID the replica received in a domain it is behind in.
  if (!base.gtid && status.usingGtid !== 'No' && status.gtidIoPos) {
    const [gap] = gtidGaps(gtidSlavePos, status.gtidIoPos)
    if (gap && gap.missing === 1n) base.gtid = status.gtidIoPos.split(',').map((g) => g.trim()).find((g) => g.startsWith(`${gap.domain}-`)) ?? null
  }
  return base
}

/** The events of the transaction that begins at `file:position` on the source, up to its COMMIT. */
async function sourceEvents(source: Connection, file: string, position: number): Promise<BinlogEvent[]> {
  if (!file) return []
  const rows = (await source.query(`SHOW BINLOG EVENTS IN ? FROM ${Number(position)} LIMIT ${MAX_EVENTS}`, [file])) as Array<{Event_type: string; Info: string | null}>
  const events: BinlogEvent[] = []
  let transactional = false
  for (const row of rows) {
    const info = row.Info ?? ''
    events.push({type: row.Event_type, info: maskPasswords(info)})
    if (row.Event_type === 'Gtid') {
      // `BEGIN GTID …` opens a transaction that ends with its Xid (InnoDB) or a COMMIT; a bare `GTID …` is one DDL statement.
      transactional = /^BEGIN\b/i.test(info)
      continue
    }
    if (transactional ? row.Event_type === 'Xid' || (row.Event_type === 'Query' && /^COMMIT\b/i.test(info)) : row.Event_type === 'Query') break
  }
  return events
}

/** Statements that set a password, with the password masked (they reach the binary log as written). */
export function maskPasswords(text: string): string {
  const masked = text
    .replace(/(IDENTIFIED\s+(?:BY|WITH\s+\S+\s+(?:BY|AS)|VIA\s+\S+\s+(?:USING|AS))\s+(?:PASSWORD\s+)?)('(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")/gi, "$1'***'")
    .replace(/(PASSWORD\s*\(\s*)('(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")/gi, "$1'***'")
    .replace(/(MASTER_PASSWORD\s*=\s*)('(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")/gi, "$1'***'")
  return redact(masked.length > 2000 ? `${masked.slice(0, 2000)}…` : masked)
}

/** What a person reads before saying yes: the error, the transaction, what skipping means. */
export function describeTransaction(t: FailedTransaction, controls: ReplicationTexts, profile: string): string {
  const lines = [
    `Replication stopped: the replica's SQL thread failed with error ${t.errno}: ${t.error}`,
    `The transaction it failed on${t.gtid ? `: GTID ${t.gtid}` : ''}, at ${t.sourceFile}:${t.sourcePosition} in the source's binary log` +
      (t.gtidIoPos || t.gtidSlavePos ? ` (the replica has applied up to ${t.gtidSlavePos || '-'}, received up to ${t.gtidIoPos || '-'})` : '') +
      ':',
  ]
  if (t.events && t.events.length > 0) for (const e of t.events) lines.push(`    ${e.type.padEnd(14)} ${e.info}`)
  else if (t.eventsNote) lines.push(`    (${t.eventsNote})`)
  const advice = replicationHint({thread: 'sql', errno: t.errno, message: t.error}, {controls: hintControls(controls), profile})
  lines.push(
    `Skipping it (${controls.command('skip')}) drops the whole transaction on the replica: its changes will be missing there ` +
      'for good, and the replica then differs from the source unless the difference was exactly what made it fail.',
  )
  if (advice) lines.push(advice.text)
  return lines.join('\n')
}

/** Watches the replica after the skip: the SQL thread must run past the skipped transaction without a new error. */
async function settle(replica: Connection, skipped: FailedTransaction, controls: ReplicationTexts, options: SkipOptions): Promise<SkipResult['after']> {
  const deadline = Date.now() + (options.settleMs ?? 10_000)
  for (;;) {
    const status = await readReplicaStatus(replica)
    if (!status) throw new DatainError('The replica lost its replication link right after the skip.', {code: 'E_NOT_LINKED', exit: ExitCode.broken})
    const gtidSlavePos = await readGtidSlavePos(replica)
    const failure = threadFailure(status)
    if (failure?.thread === 'sql') {
      const broken = brokenError(failure, status, {controls: hintControls(controls), profile: options.profile})
      throw new DatainError(`Skipped ${skipped.gtid ?? 'one transaction'}, but replication stopped again on the next one. ${broken.message}`, {
        code: 'E_REPLICATION_BROKEN',
        exit: ExitCode.broken,
        suggestions: broken.suggestions,
      })
    }
    const past = skipped.gtid ? gtidIncludes(gtidSlavePos, skipped.gtid) : status.execMasterLogPos !== skipped.sourcePosition || status.relayMasterLogFile !== skipped.sourceFile
    // Past the skipped transaction is not enough: the next one received may fail as well. Running again
    // means having applied all the replica had received (or still applying it when the time is up):
    // what it had received before the skip too, since the skip restarts the IO thread, which fetches
    // those transactions again and, until it has, shows a Gtid_IO_Pos the SQL thread has already
    // reached (a busy machine made 'skip' report success while the next conflict was still to come).
    const receivedBefore = skipped.gtidIoPos === '' || gtidIncludes(gtidSlavePos, skipped.gtidIoPos)
    const appliedReceived =
      status.usingGtid !== 'No' && status.gtidIoPos
        ? gtidIncludes(gtidSlavePos, status.gtidIoPos) && receivedBefore
        : status.relayMasterLogFile === status.masterLogFile && status.execMasterLogPos >= status.readMasterLogPos
    if (status.sqlRunning && past && appliedReceived) return {ioThread: status.ioThread, sqlRunning: true, gtidSlavePos}
    if (Date.now() >= deadline) {
      if (status.sqlRunning) return {ioThread: status.ioThread, sqlRunning: true, gtidSlavePos}
      throw new DatainError(
        `The replica's SQL thread did not start again after ${controls.name('skip')}. Look at it with 'datain status', and run 'datain start' to start replication again.`,
        {code: 'E_REPLICATION_BROKEN', exit: ExitCode.broken},
      )
    }
    await sleep(250)
  }
}
