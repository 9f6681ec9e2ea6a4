import {mkdir, stat} from 'node:fs/promises'
import path from 'node:path'

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
