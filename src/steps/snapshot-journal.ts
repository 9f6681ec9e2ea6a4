import {randomBytes} from 'node:crypto'
import path from 'node:path'
import type {CopyRecord} from '../snapshot/parallel/copy-plan.js'
import {applyCopyLine, type CopyLine, type CopyLog, parseCopyRecord} from '../snapshot/parallel/copy-record.js'
import {CHECKPOINT_JOURNAL_FILE, CheckpointJournal, readCheckpointJournal, removeCheckpointJournal} from '../state/checkpoint-journal.js'
import {setupFingerprint} from '../state/fingerprint.js'
import type {StepContext} from './step.js'

/**
 * The parallel copy's log in the snapshot step: the record in the checkpoint (the step's `copy`,
 * which names its journal), each change after it a line of the checkpoint journal beside it. A copy
 * that stops unfinished writes its whole record into the checkpoint and removes the journal; a
 * complete one leaves it to the step's done mark, whose output no longer holds a record (rewriting
 * 20,000 tables' record whole for nothing raised the peak RSS by about 20 MB).
 */
export class SnapshotCopyLog implements CopyLog {
  private journal: CheckpointJournal | undefined

  constructor(private readonly ctx: Pick<StepContext<'snapshot'>, 'progress' | 'settings' | 'store'>) {}

  async begin(record: CopyRecord): Promise<void> {
    await this.journal?.close().catch(() => {})
    const header = {journal: randomBytes(8).toString('hex'), fingerprint: setupFingerprint(this.ctx.settings)}
    // The checkpoint first: until the new journal is written it names one no file has, and the one
    // an earlier run left (whose lines this record already holds) is not read again.
    await this.ctx.progress({copy: {...record, journal: header.journal}})
    this.journal = await CheckpointJournal.create(journalFile(this.ctx), header)
  }

  append(line: CopyLine): void {
    if (!this.journal) throw new Error('bug: a copy line before the log began')
    this.journal.append(line)
  }

  async end(): Promise<void> {
    // Left in place: the checkpoint names it until the runner marks the step done (a crash before
    // that resumes from it); the next copy's begin replaces it, and a copy that starts afresh removes it.
    await this.journal?.close()
    this.journal = undefined
  }

  async compact(record: CopyRecord): Promise<void> {
    // Whatever the journal's last batch did, the record holds every chunk done.
    await this.journal?.close().catch(() => {})
    this.journal = undefined
    await this.ctx.progress({copy: record})
    // Named by no checkpoint any more: only tidying.
    await removeCheckpointJournal(journalFile(this.ctx)).catch(() => {})
  }
}

/**
 * The record an earlier parallel copy of this profile left, if it holds a table: the checkpoint's
 * `copy`, with the lines of the journal it names (written for these servers: the profile's
 * fingerprint) applied in order. A line that does not apply is left out (see applyCopyLine): at
 * worst a resume checks or loads more, never less.
 */
export async function earlierCopyRecord(ctx: Pick<StepContext<'snapshot'>, 'settings' | 'store'>, value: unknown): Promise<CopyRecord | undefined> {
  const record = parseCopyRecord(value, 0)
  if (!record) return undefined
  const journal = (value as {journal?: unknown}).journal
  if (typeof journal === 'string') {
    await readCheckpointJournal(journalFile(ctx), {journal, fingerprint: setupFingerprint(ctx.settings)}, (line) => applyCopyLine(record, line))
  }
  return record.tables.length > 0 ? record : undefined
}

/** Removes what an earlier copy's journal left: a copy that starts afresh has no use for it. */
export async function removeCopyJournal(ctx: Pick<StepContext, 'store'>): Promise<void> {
  await removeCheckpointJournal(journalFile(ctx))
}

function journalFile(ctx: Pick<StepContext, 'store'>): string {
  return path.join(ctx.store.dir, CHECKPOINT_JOURNAL_FILE)
}
