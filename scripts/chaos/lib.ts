/**
 * What every chaos group shares: running the built CLI (bin/run.js) against a sandbox, a seeded
 * PRNG, the state of both servers and of the emulated ARM (to prove "nothing changed"), the
 * replica-equals-source check, and a tally of named checks per group.
 */
import {type ResultPromise, execa} from 'execa'
import {mkdtemp, readdir, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {setTimeout as sleep} from 'node:timers/promises'
import {type AnySandbox, type AzureSandbox, type SandboxOptions, type SandboxTarget, startSandbox} from '../../sandbox/sandbox.js'
import {quoteIdentifier} from '../../src/lib/sql.js'
import {tableFingerprints} from '../../sandbox/table-fingerprints.js'

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const BIN = path.join(root, 'bin', 'run.js')

// ---- tally --------------------------------------------------------------------------------------

export interface CheckResult {
  name: string
  ok: boolean
  detail?: string
}

/** The checks of one group, and the summary line it prints (`kills: 24 done, 24 converged`). */
export class Group {
  readonly checks: CheckResult[] = []
  summary = ''

  constructor(
    readonly name: string,
    private readonly log: (line: string) => void = (line) => console.log(line),
  ) {}

  /** Records a check; `detail` says what was wrong when it failed. */
  check(name: string, ok: boolean, detail?: string): boolean {
    this.checks.push({name, ok, detail: ok ? undefined : detail})
    this.log(`  ${ok ? 'ok  ' : 'FAIL'} ${this.name}: ${name}${ok || !detail ? '' : `\n       ${detail.replaceAll('\n', '\n       ')}`}`)
    return ok
  }

  /** Runs `body`; an exception is a failed check named `name`, not the end of the suite. */
  async attempt(name: string, body: () => Promise<void>): Promise<void> {
    try {
      await body()
    } catch (error) {
      this.check(name, false, `threw: ${(error as Error)?.stack ?? String(error)}`)
    }
  }

  get passed(): number {
    return this.checks.filter((c) => c.ok).length
  }

  get failed(): number {
    return this.checks.filter((c) => !c.ok).length
  }
}

// ---- PRNG ---------------------------------------------------------------------------------------

/** mulberry32: small, seedable, good enough to choose kill moments reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// ---- environments -------------------------------------------------------------------------------

export interface Env<S extends AnySandbox = AnySandbox> {
  sandbox: S
  home: string
  env: Record<string, string>
}

/** A sandbox with Azure's emulation (gateway, ARM, procedures), and a DATAIN_HOME. */
export async function newEnv(options: SandboxOptions = {}): Promise<Env<AzureSandbox>> {
  const sandbox = await startSandbox(options)
  const home = await mkdtemp(path.join(tmpdir(), 'datain-chaos-'))
  return {sandbox, home, env: {...sandbox.env(), DATAIN_HOME: home}}
}

/** A sandbox of either target (`--target mariadb`: a plain MariaDB replica), and a DATAIN_HOME. */
export async function newTargetEnv(target: SandboxTarget | undefined, options: SandboxOptions = {}): Promise<Env> {
  const sandbox = await startSandbox({...options, target: target ?? 'azure-mariadb'})
  const home = await mkdtemp(path.join(tmpdir(), 'datain-chaos-'))
  return {sandbox, home, env: {...sandbox.env(), DATAIN_HOME: home}}
}

export async function dispose(e: Env | undefined): Promise<void> {
  if (!e) return
  await e.sandbox.stop().catch(() => {})
  await rm(e.home, {recursive: true, force: true}).catch(() => {})
}

/**
 * Ends a finished setup the way a user would (stop --remove --cleanup), empties the replica of the
 * copied databases and forgets the profile, then records it again: the next run sets up anew.
 */
export async function tearDown(group: Group, e: Env): Promise<void> {
  const stopped = await datain(['stop', '--remove', '--cleanup'], e.env)
  group.check('between setups: datain stop --remove --cleanup', stopped.exitCode === 0, cleanFailureProblem(stopped, 0))
  for (const db of await userDatabases(e.sandbox.replica.server)) {
    await e.sandbox.replica.server.execute([`DROP DATABASE ${quoteIdentifier(db)}`])
  }
  await rm(path.join(e.home, 'profiles', 'default'), {recursive: true, force: true})
  const init = await datain(['init'], e.env)
  group.check('between setups: init passes again', init.exitCode === 0, init.stderr + init.stdout.slice(-1500))
}

// ---- running datain -----------------------------------------------------------------------------

export interface CliResult {
  exitCode: number
  /** The signal that ended it (SIGKILL from a chaos kill or a time limit), if any. */
  signal?: string
  stdout: string
  stderr: string
  timedOut: boolean
}

const baseEnv = () => ({PATH: process.env.PATH, HOME: process.env.HOME})

/** `datain …` to completion, killed (SIGKILL) after `timeoutMs`. */
export async function datain(
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 240_000,
): Promise<CliResult> {
  const r = await execa(process.execPath, [BIN, ...args], {
    env: {...baseEnv(), ...env},
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    cwd: root,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  })
  return {exitCode: r.exitCode ?? -1, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr), timedOut: Boolean(r.timedOut)}
}

/** `bash -c '<prefix>; exec node bin/run.js …'`: datain under shell limits such as `ulimit -f`. */
export async function datainUnderShell(prefix: string, args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ')
  const r = await execa('bash', ['-c', `${prefix}; exec ${quoted}`], {
    env: {...baseEnv(), ...env},
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    cwd: root,
    timeout: 120_000,
    killSignal: 'SIGKILL',
  })
  return {exitCode: r.exitCode ?? -1, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr), timedOut: Boolean(r.timedOut)}
}

export interface Background {
  child: ResultPromise
  pid: number
  stderr(): string
  done: Promise<CliResult>
}

/** `datain …` in the background; `stderr()` is what it printed so far. */
export function spawnDatain(args: string[], env: Record<string, string | undefined>, timeoutMs = 240_000): Background {
  const child = execa(process.execPath, [BIN, ...args], {
    env: {...baseEnv(), ...env},
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    cwd: root,
    buffer: false,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
  const done = child.then((r) => ({
    exitCode: r.exitCode ?? -1,
    signal: r.signal,
    stdout,
    stderr,
    timedOut: Boolean(r.timedOut),
  }))
  return {child, pid: child.pid!, stderr: () => stderr, done}
}

/** Polls until `check` holds; false when `timeoutMs` ran out. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await sleep(everyMs)
  }
  return false
}

// ---- what a clean failure looks like ------------------------------------------------------------

/** oclif's error text with its `›` continuation marks folded back into one paragraph. */
export const flatten = (text: string) => text.replace(/\s*›\s*/g, ' ').trim()

/**
 * A clean failure: the expected exit code, an error message (one paragraph: no blank line inside
 * it), no stack trace. Returns what is wrong, or undefined.
 */
export function cleanFailureProblem(r: CliResult, exit: number | number[]): string | undefined {
  const exits = Array.isArray(exit) ? exit : [exit]
  const problems: string[] = []
  if (r.timedOut) problems.push('timed out')
  if (!exits.includes(r.exitCode)) problems.push(`exit ${r.exitCode} (signal ${r.signal ?? 'none'}), expected ${exits.join(' or ')}`)
  if (/\n\s+at /.test(r.stderr + r.stdout)) problems.push('a stack trace')
  if (r.stderr.includes('Caused by')) problems.push('a cause chain after the message')
  const error = errorParagraph(r.stderr)
  if (!error) problems.push('no error message on stderr')
  else if (/\n\s*\n/.test(error.trim())) problems.push('an error of more than one paragraph')
  return problems.length ? `${problems.join('; ')}\n--- stderr ---\n${r.stderr.slice(-1500)}\n--- stdout ---\n${r.stdout.slice(-500)}` : undefined
}

/** The `Error: …` block oclif prints (up to its suggestions), or undefined. */
export function errorParagraph(stderr: string): string | undefined {
  const at = stderr.lastIndexOf('Error: ')
  if (at < 0) return undefined
  return stderr.slice(at).split(/\n\s*(?:Code:|Try this:)/)[0]
}

// ---- the world, to prove that nothing changed ---------------------------------------------------

type Server = AnySandbox['source']['server']

export interface WorldState {
  source: ServerState
  replica: ServerState
  rules: string[]
  armChanges: number
}

interface ServerState {
  file: string
  position: string
  gtid: string
  users: string[]
}

async function serverState(server: Server): Promise<ServerState> {
  const [master] = await server.query<Array<{File: string; Position: number}>>('SHOW MASTER STATUS')
  const [gtid] = await server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')
  const users = await server.query<Array<{u: string}>>("SELECT CONCAT(User, '@', Host) AS u FROM mysql.user ORDER BY u")
  return {file: master?.File ?? '', position: String(master?.Position ?? ''), gtid: gtid?.pos ?? '', users: users.map((r) => r.u)}
}

/** Binlog position, GTID and accounts of both servers, the firewall rules and ARM's changes so far. */
export async function worldState(sandbox: AnySandbox): Promise<WorldState> {
  return {
    source: await serverState(sandbox.source.server),
    replica: await serverState(sandbox.replica.server),
    rules: sandbox.target === 'azure-mariadb' ? [...sandbox.azure.state.firewallRules.keys()].sort() : [],
    armChanges:
      sandbox.target === 'azure-mariadb' ? sandbox.azure.arm.requestLog.filter((r) => r.method === 'PUT' || r.method === 'DELETE' || r.method === 'PATCH').length : 0,
  }
}

export function worldDiff(before: WorldState, after: WorldState): string | undefined {
  const a = JSON.stringify(before)
  const b = JSON.stringify(after)
  return a === b ? undefined : `before ${a}\nafter  ${b}`
}

// ---- replica identical --------------------------------------------------------------------------

/** The databases datain copies by default: every one but the system ones. */
export async function userDatabases(server: Server): Promise<string[]> {
  const rows = await server.query<Array<{d: string}>>(
    "SELECT SCHEMA_NAME AS d FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ('mysql','information_schema','performance_schema','sys') ORDER BY d",
  )
  return rows.map((r) => r.d)
}

/**
 * Waits until the replica has applied every GTID the source logged (MASTER_GTID_WAIT), then compares
 * row counts and CHECKSUM TABLE of every table (of `only`, when the setup copied those databases).
 * Undefined when identical, else what differs.
 */
export async function replicaDiff(sandbox: AnySandbox, timeoutS = 120, only?: string[]): Promise<string | undefined> {
  const [{pos}] = (await sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
  const [waited] = await sandbox.replica.server.query<Array<{r: number | null}>>('SELECT MASTER_GTID_WAIT(?, ?) AS r', [pos, timeoutS])
  if (Number(waited?.r) !== 0) return `the replica did not reach the source's GTID ${pos} within ${timeoutS} s (MASTER_GTID_WAIT → ${waited?.r})`
  const databases = only ?? (await userDatabases(sandbox.source.server))
  const source = await tableFingerprints(sandbox.source.server, databases)
  const replica = await tableFingerprints(sandbox.replica.server, databases)
  const diffs: string[] = []
  for (const table of new Set([...Object.keys(source), ...Object.keys(replica)])) {
    const s = JSON.stringify(source[table])
    const r = JSON.stringify(replica[table])
    if (s !== r) diffs.push(`${table}: source ${s}, replica ${r}`)
  }
  if (Object.keys(source).length === 0) diffs.push('no table compared')
  return diffs.length ? diffs.join('\n') : undefined
}

/** One replication user named `user`, one firewall rule per address. Undefined when so. */
export async function duplicatesProblem(sandbox: AnySandbox, user = 'datain_repl'): Promise<string | undefined> {
  const problems: string[] = []
  const users = await sandbox.source.server.query<unknown[]>('SELECT User FROM mysql.user WHERE User = ?', [user])
  if (users.length !== 1) problems.push(`${users.length} replication users named ${user}`)
  const rules = sandbox.target === 'azure-mariadb' ? [...sandbox.azure.state.firewallRules.values()] : []
  const ips = rules.map((r) => `${r.startIpAddress}-${r.endIpAddress}`)
  if (new Set(ips).size !== ips.length) problems.push(`firewall rules for the same address: ${ips.join(', ')}`)
  return problems.length ? problems.join('; ') : undefined
}

// ---- processes ----------------------------------------------------------------------------------

/**
 * Reads every process's argv from /proc every `everyMs` until stopped; `stop()` gives every
 * distinct command line seen (NUL-separated arguments joined with spaces).
 */
export function pollArgv(everyMs = 20): {stop(): Promise<{samples: number; cmdlines: Set<string>}>} {
  const cmdlines = new Set<string>()
  let samples = 0
  let running = true
  const loop = (async () => {
    while (running) {
      let entries: string[] = []
      try {
        entries = await readdir('/proc')
      } catch {
        // /proc unreadable: nothing to sample.
      }
      await Promise.all(
        entries
          .filter((e) => /^\d+$/.test(e))
          .map(async (pid) => {
            try {
              const text = await readFile(`/proc/${pid}/cmdline`, 'utf8')
              if (text) cmdlines.add(text.split('\0').join(' '))
            } catch {
              // Gone meanwhile.
            }
          }),
      )
      samples++
      await sleep(everyMs)
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return {samples, cmdlines}
    },
  }
}

/** The secrets found in `text`, by label. */
export function leakedSecrets(text: string, secrets: Record<string, string>): string[] {
  return Object.entries(secrets)
    .filter(([, value]) => value && text.includes(value))
    .map(([label]) => label)
}

/** The profile's checkpoint as JSON, or undefined. */
export async function readCheckpoint(e: Env, profile = 'default'): Promise<{steps: Record<string, {state: string}>} | undefined> {
  try {
    return JSON.parse(await readFile(path.join(e.home, 'profiles', profile, 'checkpoint.json'), 'utf8'))
  } catch {
    return undefined
  }
}

/** The generated replication password from the owner-only secrets file, or undefined. */
export async function replicationPassword(e: Env, profile = 'default'): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(path.join(e.home, 'profiles', profile, 'secrets.json'), 'utf8')) as {replicationPassword?: string})
      .replicationPassword
  } catch {
    return undefined
  }
}
