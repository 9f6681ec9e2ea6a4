import mariadb from 'mariadb'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {expect} from 'vitest'
import {type AnySandbox, type Sandbox, type SandboxOptions, type SandboxTarget, startSandbox} from '../../sandbox/sandbox.js'
import {type CliResult, datain, resultJson} from '../helpers/datain.js'
import {sandboxSecrets, targetEnv} from '../helpers/targets.js'
import {tableFingerprints} from '../helpers/write-load.js'

/** A sandbox, a DATAIN_HOME, and every CLI output seen, so that a test can check that no secret ever showed. */
export interface Env<S extends AnySandbox = Sandbox> {
  sandbox: S
  home: string
  env: Record<string, string>
  outputs: string[]
  /** Runs the CLI and keeps its output. */
  run(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>
}

export async function newEnv(options: SandboxOptions = {}): Promise<Env> {
  const sandbox = await startSandbox({sampleRows: 300, ...options})
  return envFor(sandbox, await mkdtemp(path.join(tmpdir(), 'datain-stop-')))
}

/** The same for any target (`mariadb`: a plain MariaDB replica). */
export async function newTargetEnv(target: SandboxTarget, options: SandboxOptions = {}): Promise<Env<AnySandbox>> {
  const sandbox = await startSandbox({sampleRows: 300, ...options, target})
  return envFor(sandbox, await mkdtemp(path.join(tmpdir(), 'datain-stop-')))
}

function envFor<S extends AnySandbox>(sandbox: S, home: string): Env<S> {
  const env = targetEnv(sandbox, home)
  const outputs: string[] = []
  return {
    sandbox,
    home,
    env,
    outputs,
    async run(args, extraEnv = {}) {
      const result = await datain(args, {...env, ...extraEnv})
      outputs.push(result.stdout, result.stderr)
      return result
    },
  }
}

/** A new env with a profile set up and replicating (`datain init` with `initArgs`, then `datain start`). */
export async function replicatingEnv(options: SandboxOptions = {}, initArgs: string[] = []): Promise<Env> {
  return replicating(await newEnv(options), initArgs)
}

/** The same for any target. */
export async function replicatingTargetEnv(target: SandboxTarget, options: SandboxOptions = {}, initArgs: string[] = []): Promise<Env<AnySandbox>> {
  return replicating(await newTargetEnv(target, options), initArgs)
}

async function replicating<S extends AnySandbox>(e: Env<S>, initArgs: string[]): Promise<Env<S>> {
  expect((await e.run(['init', ...initArgs])).exitCode).toBe(0)
  const start = await e.run(['start'])
  expect(start.exitCode, start.stderr).toBe(0)
  return e
}

export async function dispose(e: Env<AnySandbox> | undefined): Promise<void> {
  if (!e) return
  await e.sandbox.stop()
  await rm(e.home, {recursive: true, force: true})
}

/** Runs the CLI with --json and parses stdout; fails with stderr shown when the exit code differs. */
export async function json<T = Record<string, unknown>>(e: Env<AnySandbox>, args: string[], exitCode = 0): Promise<T> {
  const result = await e.run([...args, '--json'])
  expect(result.exitCode, `${args.join(' ')}: ${result.stderr}\n${result.stdout}`).toBe(exitCode)
  return resultJson<T>(result.stdout)
}

export interface StepRecordJson {
  state: string
  startedAt: string
  finishedAt?: string
  output?: Record<string, unknown>
  error?: {code: string; message: string}
}

/** checkpoint.json as it is on disk: the setup steps' records, and `datain stop`'s in a section of their own. */
export async function checkpoint(e: Env<AnySandbox>, profile = 'default'): Promise<{steps: Record<string, StepRecordJson>; stop: Record<string, StepRecordJson>}> {
  return JSON.parse(await readFile(path.join(e.home, 'profiles', profile, 'checkpoint.json'), 'utf8'))
}

export async function journal(e: Env<AnySandbox>, profile = 'default'): Promise<Array<Record<string, unknown> & {event: string}>> {
  const text = await readFile(path.join(e.home, 'profiles', profile, 'journal.jsonl'), 'utf8')
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l))
}

/** The generated replication password, while the profile keeps it. */
export async function replicationPassword(e: Env<AnySandbox>, profile = 'default'): Promise<string> {
  const secrets = JSON.parse(await readFile(path.join(e.home, 'profiles', profile, 'secrets.json'), 'utf8')) as {replicationPassword: string}
  return secrets.replicationPassword
}

/** No password (nor the ARM token) in anything the CLI printed. */
export function expectNoSecrets(e: Env<AnySandbox>, extra: string[] = []): void {
  const secrets = [...sandboxSecrets(e.sandbox), ...extra]
  for (const output of e.outputs) for (const secret of secrets) expect(output).not.toContain(secret)
}

export async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 200))
  }
}

export async function slaveStatus(e: Env<AnySandbox>): Promise<Record<string, unknown> | undefined> {
  const rows = await e.sandbox.replica.server.query<Array<Record<string, unknown>>>('SHOW SLAVE STATUS')
  return rows[0]
}

/** Waits until the replica (still linked) has applied everything the source logged, then compares every table. */
export async function expectIdentical(e: Env<AnySandbox>, databases = ['shop']): Promise<void> {
  const [{pos}] = (await e.sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
  await waitUntil(async () => {
    const [row] = await e.sandbox.replica.server.query<Array<{ok: number | null}>>('SELECT MASTER_GTID_WAIT(?, 0) = 0 AS ok', [pos])
    return Number(row?.ok) === 1
  }, 60_000)
  await expectSameTables(e, databases)
}

/** Row counts and CHECKSUM TABLE of every table, equal on both servers. */
export async function expectSameTables(e: Env<AnySandbox>, databases = ['shop']): Promise<void> {
  expect(await tableFingerprints(e.sandbox.replica.server, databases)).toEqual(await tableFingerprints(e.sandbox.source.server, databases))
}

/**
 * An application writing to the source as an ordinary account (no READ_ONLY ADMIN, so that
 * read_only stops it), in its own table: inserts and updates, one transaction each. It stops by
 * itself at its first write refused because the source turned read-only (error 1290), and counts
 * the writes that committed.
 */
export interface AppLoad {
  /** Resolves once the load has ended: refused by read_only, or stopped. */
  done: Promise<{committed: number; refusedByReadOnly: boolean}>
  stop(): Promise<{committed: number; refusedByReadOnly: boolean}>
}

export async function startAppLoad(e: Env<AnySandbox>, pauseMs = 3): Promise<AppLoad> {
  const password = 'App-pass-1234'
  await e.sandbox.source.server.execute([
    "CREATE USER IF NOT EXISTS 'load_app'@'%' IDENTIFIED BY 'App-pass-1234'",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'load_app'@'%'",
    'CREATE TABLE IF NOT EXISTS shop.app_writes (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, note VARCHAR(40) NOT NULL) ENGINE=InnoDB',
  ])
  const conn = await mariadb.createConnection({host: '127.0.0.1', port: e.sandbox.source.port, user: 'load_app', password, database: 'shop'})
  let running = true
  let committed = 0
  let refusedByReadOnly = false
  const done = (async () => {
    try {
      for (let i = 1; running; i++) {
        try {
          if (i % 3 === 0) await conn.query('UPDATE app_writes SET n = n + 1 ORDER BY id DESC LIMIT 1')
          else await conn.query('INSERT INTO app_writes (n, note) VALUES (?, ?)', [i, `write ${i}`])
          committed++
        } catch (error) {
          // 1290: --read-only; the application has moved on.
          if ((error as {errno?: number}).errno === 1290) {
            refusedByReadOnly = true
            break
          }
          throw error
        }
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs))
      }
    } finally {
      await conn.end()
    }
    return {committed, refusedByReadOnly}
  })()
  return {
    done,
    async stop() {
      running = false
      return done
    },
  }
}
