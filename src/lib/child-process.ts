import {chmod, rm} from 'node:fs/promises'
import {PassThrough, pipeline, type Readable, type Writable} from 'node:stream'
import {execa, type ExecaError, type ResultPromise} from 'execa'
import {DatainError, ExitCode} from './errors.js'
import type {ServerAddress, ServerRole} from './mariadb.js'
import {makeClientFolder} from './client-folders.js'
import {childEnvironment, clientBinary, type ClientToolName, connectionArgs, shellWord, writeConnectionFiles} from './client-tool-command.js'
import {interruptedError, StderrTail, stallError, toolError} from './client-tool-errors.js'
import {MASK, redact, registerSecret} from './redact.js'
import {StallWatchdog, stallTimeoutMs} from './stall.js'

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
  const {dir, args, removeDir} = await privateConnectionFiles(options)

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

  const {tail, watchdog} = watchOutput(child, stallMs, () => {
    stalled = options.stall?.on?.() ?? ''
    child.kill('SIGTERM')
  })
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

/** A fresh private folder (0700) with the options file (and the CA) in it; removed again when writing fails. */
async function privateConnectionFiles(options: ClientToolOptions): Promise<{dir: string; args: string[]; removeDir: () => Promise<void>}> {
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
  return {dir, args, removeDir}
}

/** Keeps the tail of the child's stderr and calls `onStall` when no byte moves for `stallMs`. */
function watchOutput(child: ResultPromise, stallMs: number, onStall: () => void): {tail: StderrTail; watchdog: StallWatchdog} {
  const tail = new StderrTail()
  let bytesSeen = 0
  child.stderr?.on('data', (chunk: Buffer) => {
    bytesSeen += chunk.length
    tail.add(chunk)
  })
  child.stdout?.on('data', (chunk: Buffer) => (bytesSeen += chunk.length))
  // What the pipe took from us: it stops growing once the child stops reading and the pipe is full.
  const stdinTaken = () => (child.stdin as {bytesWritten?: number} | null)?.bytesWritten ?? 0
  const watchdog = new StallWatchdog(stallMs, () => bytesSeen + stdinTaken(), onStall)
  return {tail, watchdog}
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
