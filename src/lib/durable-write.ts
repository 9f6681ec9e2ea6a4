import {randomBytes} from 'node:crypto'
import {type FileHandle, open, rename, unlink} from 'node:fs/promises'
import path from 'node:path'

/**
 * Replaces `file` atomically: a temp file beside it (mode 0600) written in full, fsynced, renamed over
 * it, then the folder fsynced. Not write-file-atomic: its single write(2) ignores a short count, so a
 * filling disk (or RLIMIT_FSIZE) renames a truncated file over the good one (npm/write-file-atomic
 * up to 8.0.0 at least). FileHandle.writeFile loops until every byte is written or a write fails.
 */
export async function writeFileDurably(file: string, text: string): Promise<void> {
  const data = Buffer.from(text, 'utf8')
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  let handle: FileHandle | undefined
  try {
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
