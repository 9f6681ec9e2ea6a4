import {execa} from 'execa'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {AnySandbox} from '../../sandbox/sandbox.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** The environment a user of this sandbox would export (eval "$(npm run -s sandbox -- env)"). */
export function sandboxUserEnv(sandbox: AnySandbox, home: string): Record<string, string> {
  return {...sandbox.env(), DATAIN_HOME: home}
}

/**
 * Runs the built CLI (bin/run.js; global setup builds it) in a child process, with nothing but the
 * given environment plus PATH and HOME.
 */
export interface CliResult {
  exitCode: number
  stdout: string
  stderr: string
}

export async function datain(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const result = await execa(process.execPath, [path.join(root, 'bin', 'run.js'), ...args], {
    env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env},
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    cwd: root,
  })
  return {exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr)}
}

/**
 * What a `--json` run printed as its result: the whole of stdout, or for `datain start --json`,
 * which streams one event per line first, its last line.
 */
export function resultJson<T = Record<string, unknown>>(stdout: string): T {
  try {
    return JSON.parse(stdout) as T
  } catch {
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T
  }
}
