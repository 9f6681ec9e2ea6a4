import {mkdir, readFile, rm} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {writeFileDurably} from '../src/lib/durable-write.js'

/** What `sandbox up` leaves behind so that `env` and `down` can find a running sandbox. */
export interface SandboxRecord {
  name: string
  /** The daemon process that owns every piece of the sandbox. */
  pid: number
  /** The MariaDB servers' pids, so `down` can end them even if the daemon died. */
  serverPids: number[]
  dir: string
  startedAt: string
  env: Record<string, string>
  summary: string[]
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export function registryDir(): string {
  return process.env.DATAIN_SANDBOX_HOME ?? path.join(repoRoot, '.sandbox')
}

export function recordPath(name: string): string {
  if (!/^[a-z0-9][a-z0-9_-]{0,40}$/i.test(name)) throw new Error(`Sandbox names are letters, digits, - and _: '${name}'`)
  return path.join(registryDir(), `${name}.json`)
}

export async function writeRecord(record: SandboxRecord): Promise<void> {
  await mkdir(registryDir(), {recursive: true, mode: 0o700})
  // It holds the sandbox's passwords: owner-only.
  await writeFileDurably(recordPath(record.name), JSON.stringify(record, null, 2) + '\n')
}

export async function readRecord(name: string): Promise<SandboxRecord | undefined> {
  try {
    return JSON.parse(await readFile(recordPath(name), 'utf8')) as SandboxRecord
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

export async function removeRecord(name: string): Promise<void> {
  await rm(recordPath(name), {force: true})
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
