import {mkdtemp, readdir, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {pidAlive, processTag, tagAlive} from './process-tag.js'

const TEMP_PREFIX = 'datain-client-'

/**
 * A fresh folder for one child's options file (it holds a password), named after this process
 * (see processTag); the folders of dead runs go first.
 */
export async function makeClientFolder(): Promise<string> {
  await removeStaleFolders()
  return mkdtemp(path.join(tmpdir(), `${TEMP_PREFIX}${processTag()}-`))
}

/**
 * Folders left by a datain that was killed (kill -9, a reboot of the tool only) while a child ran:
 * they hold a password, so the next run deletes those whose process is gone. A folder's name
 * holds its process's pid and start time (see processTag): pids repeat, in a container every run
 * may be pid 1. One of an older datain has a pid only: it is gone when that pid is, or is ours.
 */
async function removeStaleFolders(): Promise<void> {
  const base = tmpdir()
  let names: string[]
  try {
    names = await readdir(base)
  } catch {
    return
  }
  const uid = process.getuid?.()
  await Promise.all(
    names.map(async (name) => {
      if (!name.startsWith(TEMP_PREFIX) || !folderIsStale(name.slice(TEMP_PREFIX.length))) return
      const folder = path.join(base, name)
      try {
        const info = await stat(folder)
        if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) return
        await rm(folder, {recursive: true, force: true})
      } catch {
        // Gone already, or not ours to delete.
      }
    }),
  )
}

function folderIsStale(rest: string): boolean {
  const parts = rest.split('-')
  if (parts.length === 3 && /^\d+$/.test(parts[0]!) && /^\d+$/.test(parts[1]!)) return !tagAlive(`${parts[0]}-${parts[1]}`)
  if (parts.length === 2 && /^\d+$/.test(parts[0]!)) {
    const pid = Number(parts[0])
    return pid === process.pid || !pidAlive(pid)
  }
  return false
}
