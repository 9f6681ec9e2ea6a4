import {randomBytes} from 'node:crypto'
import {type FileHandle, open, readdir, rename, unlink} from 'node:fs/promises'
import path from 'node:path'
import {pidAlive, processTag, tagAlive} from './process-tag.js'

/**
 * Replaces `file` atomically: a temp file beside it (mode 0600) written in full, fsynced, renamed over
 * it, then the folder fsynced. Not write-file-atomic: its single write(2) ignores a short count, so a
 * filling disk (or RLIMIT_FSIZE) renames a truncated file over the good one (npm/write-file-atomic
 * up to 8.0.0 at least). FileHandle.writeFile loops until every byte is written or a write fails.
 */
export async function writeFileDurably(file: string, text: string): Promise<void> {
  const data = Buffer.from(text, 'utf8')
  await removeStaleTemps(file)
  // Named by its process (pid and start time), so that a later run knows a crash's leftover from a write in progress.
  const temp = `${file}.${processTag()}.${randomBytes(6).toString('hex')}.tmp`
  let handle: FileHandle | undefined
  try {
    // Created 0600 (the umask can only take bits away): a secret is never readable by others, not even for an instant.
    handle = await open(temp, 'wx', 0o600)
    // open()'s mode goes through the umask; state files are exactly 0600 whatever it is.
    await handle.chmod(0o600)
    await handle.writeFile(data)
    if ((await handle.stat()).size !== data.length) {
      throw Object.assign(new Error(`EIO: short write, ${temp}`), {code: 'EIO', path: temp})
    }

    await handle.sync()
    await handle.close()
    handle = undefined
    await rename(temp, file)
  } catch (error) {
    await handle?.close().catch(() => {
      // Already failing; the write error is the one to report.
    })
    await unlink(temp).catch(() => {
      // Nothing to remove when the temp file was never created.
    })
    throw error
  }

  await fsyncDir(path.dirname(file))
}

/**
 * Removes the temp files that crashed writes left beside `file` (kill -9 between open and rename),
 * of any file of its folder: they may hold a secret (the replication password, written once) and
 * nothing will ever rename them, while the checkpoint beside them is written on every run. A temp
 * is stale when the process its name gives is gone; in a container, where a new run can have the
 * dead one's pid, the start time tells them apart. Names of an older datain hold a pid only.
 */
async function removeStaleTemps(file: string): Promise<void> {
  const dir = path.dirname(file)
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return
  }
  for (const name of names) {
    const match = /^.+\.(\d+)(?:-(\d+))?\.[0-9a-f]{12}\.tmp$/.exec(name)
    if (!match) continue
    const stale = match[2] === undefined ? Number(match[1]) === process.pid || !pidAlive(Number(match[1])) : !tagAlive(`${match[1]}-${match[2]}`)
    if (stale) {
      await unlink(path.join(dir, name)).catch(() => {
        // Gone already (another run cleaned it).
      })
    }
  }
}

/** Makes a rename in `dir` durable: without it a power cut can bring the previous file back. */
async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } catch (error) {
    // Some platforms and file systems cannot fsync a folder; the file itself was fsynced.
    if (!['EINVAL', 'EPERM', 'EISDIR', 'EBADF'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error
  } finally {
    await handle.close()
  }
}
