import {open, readFile, type FileHandle} from 'node:fs/promises'
import {
  describeIssues,
  isMissing,
  JournalEntrySchema,
  stateCorrupt,
  stateReadError,
  stateWriteError,
  type JournalEntry,
  type StateFileContext,
} from './schema.js'

const SECRET_KEY = /password|secret|token/i
/** What a redacted value is replaced with, everywhere datain shows or stores one. */
export const REDACTED = '***'

/**
 * A JSON-safe deep copy of `value` in which the value of every key matching /password|secret|token/i
 * is `'***'`. Errors become `{name, message, code}`, bigints strings, cycles `'[circular]'`.
 */
export function redactSecrets(value: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value === null || typeof value !== 'object') return value
  if (value instanceof Date) return value.toISOString()
  if (seen.has(value)) return '[circular]'
  seen.add(value)
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, seen))
  const source =
    value instanceof Error
      ? {name: value.name, message: value.message, code: (value as NodeJS.ErrnoException).code}
      : (value as Record<string, unknown>)
  const copy: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(source)) {
    copy[key] = SECRET_KEY.test(key) ? REDACTED : redactSecrets(item, seen)
  }

  return copy
}

/**
 * Appends `{at, pid, event, ...details}` as one line to `file` (created with mode 0600) and fsyncs it.
 * Details are redacted by {@link redactSecrets}; keys `at`, `pid` and `event` in them are ignored.
 * A failure is E_STATE_WRITE.
 */
export async function appendJournal(file: string, event: string, details: Record<string, unknown> = {}): Promise<void> {
  const {at: _at, pid: _pid, event: _event, ...rest} = redactSecrets(details) as Record<string, unknown>
  const line = `${JSON.stringify({at: new Date().toISOString(), pid: process.pid, event, ...rest})}\n`
  let handle: FileHandle | undefined
  try {
    handle = await open(file, 'a+', 0o600)
    const {size, mode} = await handle.stat()
    if ((mode & 0o777) !== 0o600) await handle.chmod(0o600)
    // A crash in the middle of an append leaves a line without its newline: start a fresh line so the
    // torn one does not swallow this entry.
    let prefix = ''
    if (size > 0) {
      const {buffer} = await handle.read(Buffer.alloc(1), 0, 1, size - 1)
      if (buffer[0] !== 0x0a) prefix = '\n'
    }

    await handle.appendFile(prefix + line)
    await handle.sync()
  } catch (error) {
    throw stateWriteError(error, file)
  } finally {
    await handle?.close()
  }
}

/**
 * Reads every entry of the journal, oldest first; none when the file does not exist. A line that is
 * JSON but not an entry (a hand edit) is E_STATE_CORRUPT.
 */
export async function readJournalFile(file: string, context: StateFileContext): Promise<JournalEntry[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if (isMissing(error)) return []
    throw stateReadError(error, file)
  }

  const entries: JournalEntry[] = []
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    let data: unknown
    try {
      data = JSON.parse(line)
    } catch {
      // A torn append (crash, full disk) leaves a truncated line; the entries around it still count.
      continue
    }

    const result = JournalEntrySchema.safeParse(data)
    if (!result.success) throw stateCorrupt(context, `line ${index + 1}: ${describeIssues(result.error)}`)
    entries.push(result.data)
  }

  return entries
}
