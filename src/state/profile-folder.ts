import {mkdir, stat} from 'node:fs/promises'
import path from 'node:path'
import {DatainError, ExitCode} from '../lib/errors.js'
import {LOCK_FILE} from './lock.js'

/** The files of a profile folder, by role. */
export const PROFILE_FILES = {
  settings: 'settings.json',
  checkpoint: 'checkpoint.json',
  secrets: 'secrets.json',
  journal: 'journal.jsonl',
  lock: LOCK_FILE,
} as const

/** What a profile name may be: see {@link assertProfileName}. */
export const PROFILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/

/** Throws E_PROFILE_NAME unless `name` is 1-64 letters, digits, `-`, `_`, `.`, not starting with `.`. */
export function assertProfileName(name: string): void {
  if (PROFILE_NAME.test(name)) return
  throw new DatainError(
    `"${name}" is not a valid profile name: use 1 to 64 letters, digits, "-", "_" or ".", not starting with ".".`,
    {code: 'E_PROFILE_NAME', exit: ExitCode.usage, suggestions: ['--profile prod-eu']},
  )
}

/** The folder that holds every profile under a DATAIN_HOME. */
export function profilesDir(home: string): string {
  return path.join(path.resolve(home), 'profiles')
}

/** Like `mkdir -p` with mode 0700, and failing cleanly where Node's recursive mkdir loops (under /proc). */
export async function makeDirs(dir: string): Promise<void> {
  try {
    await mkdir(dir, {mode: 0o700})
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') {
      if ((await stat(dir)).isDirectory()) return
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), {code: 'ENOTDIR', path: dir})
    }

    const parent = path.dirname(dir)
    if (code !== 'ENOENT' || parent === dir) throw error
    await makeDirs(parent)
    // A second ENOENT (a pseudo file system such as /proc) is final: no retry loop.
    await mkdir(dir, {mode: 0o700}).catch((retry: NodeJS.ErrnoException) => {
      if (retry.code !== 'EEXIST') throw retry
    })
  }
}
