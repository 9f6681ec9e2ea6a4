import {randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {open, rename, unlink} from 'node:fs/promises'
import path from 'node:path'
import {z} from 'zod'
import {processTag} from '../lib/process-tag.js'

/** Beside the checkpoint in the profile's folder; written by `datain start`, read by `datain status`. */
export const PROGRESS_FILE = 'progress.json'

/** More than any real progress file (a few hundred bytes): a larger one is not read. */
const MAX_BYTES = 64 * 1024
const count = z.number().nonnegative()

/**
 * The snapshot's progress as `status --json` shows it (the snapshot step's `progress`) and
 * `start --json` streams it (product.md, "Progress while it runs"). `rowsTotal` is InnoDB's
 * estimate; `inFlight` the tables whose rows are moving now, as `db.table`, names from the source.
 */
export const SnapshotProgressSchema = z.strictObject({
  tablesDone: count,
  tablesTotal: count,
  rowsDone: count,
  rowsTotal: count,
  bytesDone: count,
  rowsPerSecond: count,
  etaSeconds: count.nullable(),
  inFlight: z.array(z.string().max(1024)).max(256),
  updatedAt: z.iso.datetime(),
})

export type SnapshotProgress = z.infer<typeof SnapshotProgressSchema>

/** What a read gave: the progress, nothing (no file), or why the file was not used. */
export type ProgressReading = {progress: SnapshotProgress; ignored?: undefined} | {progress?: undefined; ignored?: string}

/**
 * Replaces the progress file: a temp file renamed over it, so a reader sees the old one or the new
 * one, never half of either. Not fsynced: progress need not survive a power cut, and an fsync every
 * few seconds would cost the copy; the checkpoint is what a resume reads. The temp is named like
 * writeFileDurably's, whose next run removes one a crash left behind.
 */
export async function writeProgress(dir: string, progress: SnapshotProgress): Promise<void> {
  const file = path.join(dir, PROGRESS_FILE)
  const temp = `${file}.${processTag()}.${randomBytes(6).toString('hex')}.tmp`
  try {
    const handle = await open(temp, 'wx', 0o600)
    try {
      await handle.writeFile(`${JSON.stringify(progress)}\n`)
    } finally {
      await handle.close()
    }
    await rename(temp, file)
  } catch (error) {
    await unlink(temp).catch(() => {
      // Never created, or already renamed.
    })
    throw error
  }
}

/**
 * The last progress written in `dir`. A file that is not a regular file, too large, not JSON or not
 * of the schema is not used, and the reading says why: status goes on without it.
 */
export async function readProgress(dir: string): Promise<ProgressReading> {
  const file = path.join(dir, PROGRESS_FILE)
  let text: string
  try {
    // O_NONBLOCK: a FIFO put in its place must not hang status on open (it is refused below).
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    try {
      const info = await handle.stat()
      if (!info.isFile()) return {ignored: `${file} is not a regular file`}
      if (info.size > MAX_BYTES) return {ignored: `${file} is ${info.size} bytes, more than a progress file holds`}
      text = await handle.readFile('utf8')
    } finally {
      await handle.close()
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return {}
    return {ignored: `${file} could not be read (${code === 'ELOOP' ? 'a symbolic link' : (code ?? String(error))})`}
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return {ignored: `${file} is not JSON`}
  }
  const parsed = SnapshotProgressSchema.safeParse(data)
  return parsed.success ? {progress: parsed.data} : {ignored: `${file} does not hold a snapshot progress (${parsed.error.issues[0]?.path.join('.') || 'its shape'})`}
}
