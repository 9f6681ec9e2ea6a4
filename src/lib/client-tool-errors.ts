import {setTimeout as sleep} from 'node:timers/promises'
import type {ExecaError} from 'execa'
import type {ClientToolOptions} from './child-process.js'
import {DatainError, ExitCode} from './errors.js'
import {redact} from './redact.js'
import {STALL_TIMEOUT_ENV} from './stall.js'

const STDERR_TAIL_BYTES = 16 * 1024
const STDERR_TAIL_LINES = 8
const STDERR_LINE_CHARS = 300
const QUERY_ECHO_RULE = '--------------'

// Client errors that mean "could not reach or log in", as the exit codes of product.md tell them apart.
// `ERROR 2003 (HY000): …` from mariadb, `Got error: 2003: …` from mariadb-dump (not "at line 2003").
const CONNECTION_ERRORS = /(?:^ERROR |Got error: )(1045|1129|1130|2002|2003|2005|2006|2013|2026|9000|9002)\b/
// A connection that worked and then went away mid-run (a KILL, a server restart, a network cut): the
// client's `ERROR 2013 (HY000) at line 812: …`, mariadb-dump's `Error 2013: … when dumping table` or
// `Couldn't execute '…': … (2013)`. 2026 is how a TLS connection reports the same (unexpected eof).
const LOST_CONNECTION = /^ERROR (?:1053|1927|2006|2013|2026) \(\w+\) at line \d+|\bError (?:1053|1927|2006|2013|2026): |\((?:1053|1927|2006|2013|2026)\)$/

/** The error for a cancelled run: the same code the runner uses. */
export function interruptedError(): DatainError {
  return new DatainError("datain was interrupted; the checkpoint records where it stopped. Run 'datain start' again to go on.", {
    code: 'E_INTERRUPTED',
    exit: ExitCode.failed,
  })
}

/** Waits `ms`, or throws interruptedError() as soon as `signal` aborts (at once if it has). */
export async function pauseUnlessInterrupted(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, {signal})
  } catch {
    throw interruptedError()
  }
}

export function stallError(options: ClientToolOptions, stallMs: number, on: string, cause: unknown): DatainError {
  return new DatainError(
    `${options.tool} made no progress for ${stallMs / 1000} s while trying to ${options.purpose}${on ? ` (it was on ${on})` : ''}, so datain stopped it. ` +
      `A lock on the ${options.role} or a tool that spins can do this: look at the ${options.role}'s process list, then run 'datain start' again ` +
      `(${STALL_TIMEOUT_ENV} sets the bound in seconds).`,
    {code: options.stall?.code ?? 'E_CLIENT_STALLED', exit: ExitCode.failed, cause},
  )
}

/**
 * A server also closes the connection (2006, gone away) on a statement larger than its
 * max_allowed_packet: then every run fails alike, and the user must know it.
 */
function packetHint(options: ClientToolOptions, stderr: string[]): string {
  if (options.tool !== 'mariadb' || options.role !== 'replica' || !stderr.some((line) => /\b2006\b/.test(line))) return ''
  return (
    "\nIf it fails at the same place again, a statement of the dump is larger than the replica's max_allowed_packet (mariadb-dump writes a row as one INSERT, " +
    "binary columns in hex: twice their size): raise max_allowed_packet on the replica (at most 1G), or copy without --parallel 1 where no SEQUENCE needs the single stream."
  )
}

export function toolError(options: ClientToolOptions, error: ExecaError, stderr: string[], stoppedByUs: boolean): DatainError {
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
        `The server closed the connection (a restart, a killed session, the network). Run 'datain start' again: it goes on from the last checkpoint.` +
        packetHint(options, stderr),
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
export class StderrTail {
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
