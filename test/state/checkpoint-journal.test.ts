import {appendFile, lstat, mkdtemp, rm, stat, symlink, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, test} from 'vitest'
import {CheckpointJournal, MAX_JOURNAL_LINE_BYTES, readCheckpointJournal, removeCheckpointJournal} from '../../src/state/checkpoint-journal.js'

let dir: string
let file: string
const header = {journal: 'run-1', fingerprint: 'fp-1'}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'datain-checkpoint-journal-'))
  file = path.join(dir, 'checkpoint-journal.jsonl')
})
afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

async function read(expected = header): Promise<{entries: unknown[]; skipped: number}> {
  const entries: unknown[] = []
  const counts = await readCheckpointJournal(file, expected, (e) => entries.push(e))
  expect(counts.entries).toBe(entries.length)
  return {entries, skipped: counts.skipped}
}

async function written(...entries: object[]): Promise<void> {
  const journal = await CheckpointJournal.create(file, header)
  for (const e of entries) journal.append(e)
  await journal.close()
}

describe('the checkpoint journal', () => {
  test('gives back what was appended, in order, once flushed; the file is 0600', async () => {
    const journal = await CheckpointJournal.create(file, header)
    for (let i = 0; i < 1000; i++) journal.append({t: i, c: 0})
    await journal.flush()
    // Read while still open: what flush returned for is on disk.
    expect((await read()).entries).toHaveLength(1000)
    journal.append({t: 1000, c: 0})
    await journal.close()
    const {entries, skipped} = await read()
    expect(entries).toEqual(Array.from({length: 1001}, (_, i) => ({t: i, c: 0})))
    expect(skipped).toBe(0)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  test('create starts afresh: the lines of an earlier journal are gone', async () => {
    await written({t: 0, c: 0})
    await written({t: 5, c: 1})
    expect((await read()).entries).toEqual([{t: 5, c: 1}])
  })

  test('a torn last line (a crash in the middle of an append) is left out, the lines before it count', async () => {
    await written({t: 0, c: 0}, {t: 1, c: 0})
    await appendFile(file, '{"t":2,"c"')
    expect(await read()).toEqual({entries: [{t: 0, c: 0}, {t: 1, c: 0}], skipped: 0})
    // Even a whole JSON value without its newline: the append did not finish.
    await writeFile(file, `${JSON.stringify(header)}\n{"t":0,"c":0}\n{"t":1,"c":0}`)
    expect((await read()).entries).toEqual([{t: 0, c: 0}])
  })

  test('garbage lines are passed over, the others still read', async () => {
    await written({t: 0, c: 0})
    await appendFile(file, 'not json\n\u0000\u0001\n{"t":\n\n{"t":1,"c":0}\n')
    const {entries, skipped} = await read()
    expect(entries).toEqual([{t: 0, c: 0}, {t: 1, c: 0}])
    expect(skipped).toBe(4)
  })

  test('a huge line is passed over without being read whole; the lines after it count', async () => {
    await written({t: 0, c: 0})
    // 40 MB on one line: valid JSON, far past what an entry can be.
    await appendFile(file, `{"t":1,"pad":"${'x'.repeat(40 * 1024 * 1024)}"}\n{"t":2,"c":0}\n`)
    const before = process.memoryUsage().rss
    const {entries, skipped} = await read()
    expect(entries).toEqual([{t: 0, c: 0}, {t: 2, c: 0}])
    expect(skipped).toBe(1)
    expect(process.memoryUsage().rss - before).toBeLessThan(30 * 1024 * 1024)
    // Just at the limit is read; one byte more is not.
    const fits = JSON.stringify({t: 3, pad: ''}).length
    await writeFile(file, `${JSON.stringify(header)}\n${JSON.stringify({t: 3, pad: 'y'.repeat(MAX_JOURNAL_LINE_BYTES - fits)})}\n${JSON.stringify({t: 4, pad: 'y'.repeat(MAX_JOURNAL_LINE_BYTES - fits + 1)})}\n`)
    expect((await read()).entries.map((e) => (e as {t: number}).t)).toEqual([3])
  })

  test("another run's or another profile's journal gives nothing", async () => {
    await written({t: 0, c: 0})
    expect((await read({journal: 'run-2', fingerprint: 'fp-1'})).entries).toEqual([])
    expect((await read({journal: 'run-1', fingerprint: 'fp-2'})).entries).toEqual([])
    // No header, a broken header, an empty file, no file.
    await writeFile(file, '{"t":0,"c":0}\n')
    expect((await read()).entries).toEqual([])
    await writeFile(file, `${'{'.repeat(MAX_JOURNAL_LINE_BYTES + 10)}\n{"t":0,"c":0}\n`)
    expect((await read()).entries).toEqual([])
    await writeFile(file, '')
    expect((await read()).entries).toEqual([])
    await removeCheckpointJournal(file)
    await removeCheckpointJournal(file)
    expect((await read()).entries).toEqual([])
  })

  test('a symbolic link or a folder in its place is not read; create replaces a link rather than writing through it', async () => {
    const elsewhere = path.join(dir, 'elsewhere.jsonl')
    await writeFile(elsewhere, `${JSON.stringify(header)}\n{"t":0,"c":0}\n`)
    await symlink(elsewhere, file)
    expect((await read()).entries).toEqual([])
    await written({t: 9, c: 0})
    expect((await lstat(file)).isSymbolicLink()).toBe(false)
    expect((await read()).entries).toEqual([{t: 9, c: 0}])
    await rm(file)
    await import('node:fs/promises').then((fs) => fs.mkdir(file))
    expect((await read()).entries).toEqual([])
  })

  test('a write that fails is thrown by flush and by the next append', async () => {
    const journal = await CheckpointJournal.create(file, header)
    // Closing the file under it: the next batch's write fails (EBADF).
    await (journal as unknown as {handle: {close(): Promise<void>}}).handle.close()
    journal.append({t: 0, c: 0})
    await expect(journal.flush()).rejects.toThrow()
    expect(() => journal.append({t: 1, c: 0})).toThrow()
  })
})
