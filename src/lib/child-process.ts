import {accessSync, constants} from 'node:fs'
import {chmod, rm, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {PassThrough, pipeline, type Readable, type Writable} from 'node:stream'
import {execa, type ExecaError} from 'execa'
import {DatainError, ExitCode} from './errors.js'
import type {ServerAddress, ServerRole} from './mariadb.js'
import {makeClientFolder} from './client-folders.js'
import {MASK, redact, registerSecret} from './redact.js'
import {STALL_TIMEOUT_ENV, StallWatchdog, stallTimeoutMs} from './stall.js'

/** MariaDB's client tools datain runs; older installs name them after MySQL's. */
export type ClientToolName = 'mariadb' | 'mariadb-dump'

const BINARIES: Record<ClientToolName, string[]> = {
  mariadb: ['mariadb', 'mysql'],
  'mariadb-dump': ['mariadb-dump', 'mysqldump'],
}

export interface ClientToolOptions {
  tool: ClientToolName
  /** Which server the tool talks to: for error messages and their exit codes. */
  role: ServerRole
  address: ServerAddress
  /** Everything after the connection options (which the wrapper writes itself). */
  args: string[]
  /** What the tool is for, in a few words, for messages: "dump the source". */
  purpose: string
  /** Aborted: the child is killed (SIGTERM, then SIGKILL) and `done` rejects with E_INTERRUPTED. */
  signal?: AbortSignal
  /** `pipe` makes `stdin` a writable stream; default `ignore`. */
  stdin?: 'pipe' | 'ignore'
  /** `pipe` makes `stdout` a readable stream the caller must consume; default `ignore`. */
  stdout?: 'pipe' | 'ignore'
  /** The DatainError code when the tool fails; default E_CLIENT_TOOL. */
  errorCode?: string
  /**
   * No byte on stdout or stderr and none taken from stdin for `timeoutMs` (default: see
   * stallTimeoutMs) ends the child, and `done` rejects with `code` (default E_CLIENT_STALLED)
   * naming what `on()` says it was working on.
   */
  stall?: {timeoutMs?: number; on?: () => string | undefined; code?: string}
}

export interface RunningClientTool {
  readonly pid: number
  readonly stdin: Writable | null
  readonly stdout: Readable | null
  /**
   * Settles once the child has exited and its options file is deleted: resolves on exit code 0,
   * rejects with a DatainError otherwise (the last lines of its stderr in the message).
   */
  readonly done: Promise<void>
  /** Ends the child (SIGTERM, SIGKILL after a grace) and waits for it; its `done` rejects with E_CLIENT_STOPPED. */
  stop(): Promise<void>
}

/** How long a child gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 3000
const STDERR_TAIL_BYTES = 16 * 1024
const STDERR_TAIL_LINES = 8
const STDERR_LINE_CHARS = 300
const QUERY_ECHO_RULE = '--------------'

// Client errors that mean "could not reach or log in", as the exit codes of product.md tell them apart.
// `ERROR 2003 (HY000): …` from mariadb, `Got error: 2003: …` from mariadb-dump (not "at line 2003").
const CONNECTION_ERRORS = /(?:^ERROR |Got error: )(1045|1129|1130|2002|2003|2005|2006|2013|2026|9000)\b/
// A connection that worked and then went away mid-run (a KILL, a server restart, a network cut): the
// client's `ERROR 2013 (HY000) at line 812: …`, mariadb-dump's `Error 2013: … when dumping table` or
// `Couldn't execute '…': … (2013)`. 2026 is how a TLS connection reports the same (unexpected eof).
const LOST_CONNECTION = /^ERROR (?:1053|1927|2006|2013|2026) \(\w+\) at line \d+|\bError (?:1053|1927|2006|2013|2026): |\((?:1053|1927|2006|2013|2026)\)$/

/**
 * Starts one of MariaDB's client tools against `address`, the MariaDB way but without a secret in
 * argv: the password goes into a private options file (mode 0600, in a fresh folder of mode 0700)
 * given as the first argument, `--defaults-extra-file`, and deleted when the child exits however it
 * ends. Host, port and user follow on the command line, so that they win over any my.cnf; TLS as
 * the address says (`--ssl-ca`, `--ssl-verify-server-cert` when verifying).
 */
export async function startClientTool(options: ClientToolOptions): Promise<RunningClientTool> {
  if (options.signal?.aborted) throw interruptedError()
  const binary = clientBinary(options.tool)
  registerSecret(options.address.password)
  const stallMs = options.stall?.timeoutMs ?? stallTimeoutMs()
  const dir = await makeClientFolder()
  const removeDir = () => rm(dir, {recursive: true, force: true})
  let args: string[]
  try {
    // mkdtemp creates 0700 already; chmod makes it so whatever the platform does.
    await chmod(dir, 0o700)
    args = await writeConnectionFiles(dir, options.tool, options.address)
  } catch (error) {
    await removeDir()
    throw error
  }

  let stoppedByUs = false
  let stalled: string | undefined
  const child = execa(binary, [...args, ...options.args], {
    stdin: options.stdin ?? 'ignore',
    stdout: options.stdout ?? 'ignore',
    stderr: 'pipe',
    buffer: false,
    cancelSignal: options.signal,
    forceKillAfterDelay: KILL_GRACE_MS,
    // The user's ~/.my.cnf is read after --defaults-extra-file and would override its password; a
    // HOME of our own folder keeps it out. MYSQL_PWD would be used were the file unreadable.
    env: childEnvironment(dir),
    extendEnv: false,
    reject: true,
  })
  if (child.pid === undefined) {
    // Spawning failed (the error comes through the promise below); still make sure the folder goes.
    await child.catch(() => {})
    await removeDir()
    throw new DatainError(`datain could not start ${binary} to ${options.purpose}.`, {code: 'E_CLIENT_TOOL_MISSING', exit: ExitCode.failed})
  }

  const tail = new StderrTail()
  let bytesSeen = 0
  child.stderr?.on('data', (chunk: Buffer) => {
    bytesSeen += chunk.length
    tail.add(chunk)
  })
  child.stdout?.on('data', (chunk: Buffer) => (bytesSeen += chunk.length))
  // What the pipe took from us: it stops growing once the child stops reading and the pipe is full.
  const stdinTaken = () => (child.stdin as {bytesWritten?: number} | null)?.bytesWritten ?? 0
  const watchdog = new StallWatchdog(
    stallMs,
    () => bytesSeen + stdinTaken(),
    () => {
      stalled = options.stall?.on?.() ?? ''
      child.kill('SIGTERM')
    },
  )
  // execa resumes (and so discards) an unread stdout after a tick under `buffer: false`; a caller
  // that attaches later would lose the start of a dump. The PassThrough holds it, with backpressure.
  const stdout = child.stdout ? new PassThrough() : null
  if (child.stdout && stdout) pipeline(child.stdout, stdout, () => {})

  const done = (async () => {
    try {
      await child
    } catch (error) {
      if (stalled !== undefined) throw stallError(options, stallMs, stalled, error)
      throw toolError(options, error as ExecaError, tail.lines(), stoppedByUs)
    } finally {
      watchdog.stop()
      await removeDir()
    }
  })()
  // A caller that only awaits `stop()` must not see an unhandled rejection.
  done.catch(() => {})

  return {
    pid: child.pid,
    stdin: child.stdin,
    stdout,
    done,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        stoppedByUs = true
        child.kill('SIGTERM')
      }
      await done.catch(() => {})
    },
  }
}

/** Runs a tool to its end with `input` on stdin; resolves with what it wrote on stdout. */
export async function runClientTool(options: Omit<ClientToolOptions, 'stdin' | 'stdout'> & {input?: string}): Promise<string> {
  const tool = await startClientTool({...options, stdin: options.input === undefined ? 'ignore' : 'pipe', stdout: 'pipe'})
  const chunks: Buffer[] = []
  tool.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk))
  if (options.input !== undefined) {
    // EPIPE when the tool exits before reading everything: its exit status tells why.
    tool.stdin!.on('error', () => {})
    tool.stdin!.end(options.input)
  }
  await tool.done
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The command line as `--dry-run` and the journal show it: the options file stands for itself (its
 * content, the password, is never shown), the CA file by its role.
 */
export function describeClientTool(options: Pick<ClientToolOptions, 'tool' | 'address' | 'args'>): string {
  const optionsFile = `--defaults-extra-file=<private options file: password=${MASK}>`
  const placeholders = new Set([optionsFile, '--ssl-ca=<CA file>'])
  const shown = [options.tool, optionsFile, ...connectionArgs(options.tool, options.address, '<CA file>'), ...options.args]
  return redact(shown.map((word) => (placeholders.has(word) ? word : shellWord(word))).join(' '))
}

/**
 * A value for a MariaDB options file: in double quotes, with the escapes the server's option-file
 * reader undoes (`\\`, `\"`, `\'`, `\n`, `\r`, `\t`, `\b`), so that `#`, quotes, `$`, spaces at
 * either end and any UTF-8 survive as they are.
 */
export function optionFileValue(value: string): string {
  if (value.includes('\0')) throw new DatainError('A password cannot contain a NUL character.', {code: 'E_BAD_INPUT', exit: ExitCode.usage})
  const escapes: Record<string, string> = {'\\': '\\\\', '"': '\\"', "'": "\\'", '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b'}
  return `"${value.replace(/[\\"'\n\r\t\b]/g, (c) => escapes[c]!)}"`
}

/** The full path of a client tool, trying MariaDB's name first; E_CLIENT_TOOL_MISSING with the package to install. */
export function clientBinary(tool: ClientToolName): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin', '/usr/local/mysql/bin']
  for (const name of BINARIES[tool]) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name)
      try {
        accessSync(candidate, constants.X_OK)
        return candidate
      } catch {
        // not here
      }
    }
  }
  throw new DatainError(
    `datain needs MariaDB's '${tool}' client program, which is not installed on this machine (nor '${BINARIES[tool].slice(1).join("', '")}'). ` +
      `Install MariaDB's client tools, of the source's version or later: on Debian or Ubuntu 'apt-get install mariadb-client', ` +
      `on RHEL-like systems 'dnf install mariadb', on macOS 'brew install mariadb'.`,
    {code: 'E_CLIENT_TOOL_MISSING', exit: ExitCode.failed},
  )
}

/** The error for a cancelled run: the same code the runner uses. */
export function interruptedError(): DatainError {
  return new DatainError("datain was interrupted; the checkpoint records where it stopped. Run 'datain start' again to go on.", {
    code: 'E_INTERRUPTED',
    exit: ExitCode.failed,
  })
}

// ---------------------------------------------------------------------------------------------

function connectionArgs(tool: ClientToolName, address: ServerAddress, caFile: string | undefined): string[] {
  const args = [
    `--host=${address.host}`,
    `--port=${address.port}`,
    `--user=${address.user}`,
    // `localhost` would otherwise mean the unix socket, another server than the one datain checked.
    '--protocol=TCP',
  ]
  const tls = address.tls
  if (!tls) {
    args.push('--skip-ssl')
  } else {
    args.push('--ssl')
    if (tls.ca) args.push(`--ssl-ca=${caFile}`)
    // 11.4+ clients verify by default; older ones only when asked.
    args.push(tls.verify ? '--ssl-verify-server-cert' : '--skip-ssl-verify-server-cert')
  }
  // A server may answer any statement with a request for a local file, which a client with
  // local-infile on sends (Debian builds it on): datain's loads never use it.
  if (tool === 'mariadb') args.push('--local-infile=0')
  return args
}

/** Writes the options file (and the CA, if any) into `dir`; returns the connection arguments, the options file first. */
async function writeConnectionFiles(dir: string, tool: ClientToolName, address: ServerAddress): Promise<string[]> {
  const optionsFile = path.join(dir, 'client.cnf')
  await writeFile(optionsFile, `[client]\npassword=${optionFileValue(address.password)}\n`, {mode: 0o600, flag: 'wx'})
  await chmod(optionsFile, 0o600)
  let caFile: string | undefined
  if (address.tls?.ca) {
    caFile = path.join(dir, 'ca.pem')
    await writeFile(caFile, address.tls.ca, {mode: 0o600, flag: 'wx'})
  }
  // The client reads --defaults-extra-file only as its very first argument.
  return [`--defaults-extra-file=${optionsFile}`, ...connectionArgs(tool, address, caFile)]
}

/**
 * What a child may see of datain's environment: an allow-list, since datain's own holds both
 * passwords and the ARM token, and a tool on one server has no business with the other's. The
 * client tools read nothing else that datain means to pass (MYSQL_* would even override it).
 */
function childEnvironment(home: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && /^(PATH|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR)$/.test(key)) env[key] = value
  }
  env.HOME = home
  return env
}

function stallError(options: ClientToolOptions, stallMs: number, on: string, cause: unknown): DatainError {
  return new DatainError(
    `${options.tool} made no progress for ${stallMs / 1000} s while trying to ${options.purpose}${on ? ` (it was on ${on})` : ''}, so datain stopped it. ` +
      `A lock on the ${options.role} or a tool that spins can do this: look at the ${options.role}'s process list, then run 'datain start' again ` +
      `(${STALL_TIMEOUT_ENV} sets the bound in seconds).`,
    {code: options.stall?.code ?? 'E_CLIENT_STALLED', exit: ExitCode.failed, cause},
  )
}

function toolError(options: ClientToolOptions, error: ExecaError, stderr: string[], stoppedByUs: boolean): DatainError {
  if (error.isCanceled) return interruptedError()
  const said = stderr.length > 0 ? ` It said:\n${stderr.map((l) => `  ${l}`).join('\n')}` : ''
  if (stoppedByUs) {
    return new DatainError(`${options.tool} was stopped by datain before it could ${options.purpose}.`, {code: 'E_CLIENT_STOPPED', exit: ExitCode.failed, cause: error})
  }
  if (error.exitCode === undefined && !error.signal) {
    return new DatainError(`datain could not run ${options.tool} to ${options.purpose}: ${redact(error.shortMessage ?? error.message)}.`, {
      code: 'E_CLIENT_TOOL_MISSING',
      exit: ExitCode.failed,
      cause: error,
    })
  }
  const how = error.signal ? `was killed by ${error.signal}` : `failed (exit code ${error.exitCode})`
  const where = `the ${options.role} at ${options.address.host}:${options.address.port}`
  // Checked before CONNECTION_ERRORS, whose numbers overlap: the advice differs (run again, not check the settings).
  if (stderr.some((line) => LOST_CONNECTION.test(line))) {
    return new DatainError(
      `${options.tool} lost its connection to ${where} while trying to ${options.purpose}: it ${how}.${said}\n` +
        `The server closed the connection (a restart, a killed session, the network). Run 'datain start' again: it goes on from the last checkpoint.`,
      {code: `E_${options.role.toUpperCase()}_CONNECTION`, exit: ExitCode.unreachable, cause: error},
    )
  }
  if (stderr.some((line) => CONNECTION_ERRORS.test(line))) {
    return new DatainError(
      `${options.tool} could not connect to ${where} to ${options.purpose}: it ${how}.${said}\nCheck the ${options.role}'s address, ` +
        `its credentials (DATAIN_${options.role.toUpperCase()}_PASSWORD), its TLS settings, and that this machine may connect.`,
      {code: `E_${options.role.toUpperCase()}_CONNECT`, exit: ExitCode.unreachable, cause: error},
    )
  }
  return new DatainError(`${options.tool} ${how} while trying to ${options.purpose} (${where}).${said}`, {
    code: options.errorCode ?? 'E_CLIENT_TOOL',
    exit: ExitCode.failed,
    cause: error,
  })
}

/** The last few KB of a child's stderr: enough for the error, never the whole of a chatty run. */
class StderrTail {
  private chunks: Buffer[] = []
  private size = 0

  add(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.size += chunk.length
    while (this.size - this.chunks[0]!.length >= STDERR_TAIL_BYTES) this.size -= this.chunks.shift()!.length
  }

  lines(): string[] {
    const text = Buffer.concat(this.chunks).toString('utf8')
    let lines = text
      .split('\n')
      .map((l) => l.trimEnd())
      .filter(Boolean)
    // MariaDB 11's client echoes a failing statement between two lines of dashes before its ERROR
    // (--print-query-on-error, on in --batch). Its first line says which statement failed; the rest of
    // an INSERT is rows of user data, which have no place in an error message.
    const close = lines.lastIndexOf(QUERY_ECHO_RULE)
    if (close >= 0) {
      const open = close > 0 ? lines.lastIndexOf(QUERY_ECHO_RULE, close - 1) : -1
      // Without its opening rule (cut off with the start of the tail) the echo is a middle of a statement: left out.
      const head = open >= 0 && open + 1 < close ? [lines[open + 1]!.replace(/^(\s*(?:INSERT|REPLACE)\b.*?\bVALUES\b).*$/i, '$1 …')] : []
      lines = [...lines.slice(0, Math.max(0, open)), ...head, ...lines.slice(close + 1)]
    }
    return lines
      .slice(-STDERR_TAIL_LINES)
      // The client echoes a failing statement, which can be a megabyte of INSERT.
      .map((l) => redact(l.length > STDERR_LINE_CHARS ? `${l.slice(0, STDERR_LINE_CHARS)}…` : l))
  }
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./<>*-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`
}
