import {appendFile, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, test} from 'vitest'
import {DatainError} from '../../src/lib/errors.js'
import {redactSecrets} from '../../src/state/journal.js'
import {openProfile} from '../../src/state/profile-store.js'

let home: string
beforeEach(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'datain-journal-'))
})
afterEach(async () => {
  await rm(home, {recursive: true, force: true})
})

describe('redactSecrets', () => {
  test('replaces values of password/secret/token keys at any depth, case-insensitively', () => {
    const input = {
      host: 'db1',
      password: 'p1',
      nested: {replicationPassword: 'p2', ARM_TOKEN: 'p3', clientSecret: {deep: 'p4'}, list: [{Password: 'p5', ok: 1}]},
    }
    expect(redactSecrets(input)).toEqual({
      host: 'db1',
      password: '***',
      nested: {replicationPassword: '***', ARM_TOKEN: '***', clientSecret: '***', list: [{Password: '***', ok: 1}]},
    })
    expect(input.password).toBe('p1')
  })

  test('makes errors, bigints, dates and cycles JSON-safe', () => {
    const cycle: Record<string, unknown> = {name: 'loop'}
    cycle.self = cycle
    const error = Object.assign(new Error('refused'), {code: 'ECONNREFUSED'})
    expect(redactSecrets({error, rows: 12n, at: new Date(0), cycle})).toEqual({
      error: {name: 'Error', message: 'refused', code: 'ECONNREFUSED'},
      rows: '12',
      at: '1970-01-01T00:00:00.000Z',
      cycle: {name: 'loop', self: '[circular]'},
    })
  })
})

describe('journal', () => {
  test('appends one redacted JSON line per event with time and pid', async () => {
    const store = openProfile(home, 'prod')
    await store.journal('replication-user.created', {user: 'datain_repl', password: 'hunter2', arm: {token: 'abc'}})
    await store.journal('snapshot.done', {rows: 42})
    const text = await readFile(path.join(store.dir, 'journal.jsonl'), 'utf8')
    expect(text).not.toContain('hunter2')
    expect(text).not.toContain('abc')
    const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line))
    expect(lines).toHaveLength(2)
    expect(lines[0]).toEqual({
      at: expect.any(String),
      pid: process.pid,
      event: 'replication-user.created',
      user: 'datain_repl',
      password: '***',
      arm: {token: '***'},
    })
    expect(Object.keys(lines[0]).slice(0, 3)).toEqual(['at', 'pid', 'event'])
    expect(await store.readJournal()).toEqual(lines)
  })

  test('details cannot overwrite at, pid or event', async () => {
    const store = openProfile(home, 'prod')
    await store.journal('real', {at: 'never', pid: -1, event: 'fake', extra: true})
    expect(await store.readJournal()).toEqual([{at: expect.any(String), pid: process.pid, event: 'real', extra: true}])
  })

  test('is append-only: earlier bytes never change', async () => {
    const store = openProfile(home, 'prod')
    const file = path.join(store.dir, 'journal.jsonl')
    await store.journal('one')
    const first = await readFile(file, 'utf8')
    await store.journal('two')
    await store.journal('three')
    const all = await readFile(file, 'utf8')
    expect(all.startsWith(first)).toBe(true)
    expect((await store.readJournal()).map((entry) => entry.event)).toEqual(['one', 'two', 'three'])
  })

  test('a torn last line (crash mid-append) is skipped and does not swallow the next entry', async () => {
    const store = openProfile(home, 'prod')
    const file = path.join(store.dir, 'journal.jsonl')
    await store.journal('one')
    await appendFile(file, '{"at":"2026-01-01T00:00:00.000Z","pid":1,"ev')
    expect((await store.readJournal()).map((entry) => entry.event)).toEqual(['one'])
    await store.journal('two')
    expect((await store.readJournal()).map((entry) => entry.event)).toEqual(['one', 'two'])
  })

  test('an empty journal when there is none; a hand-edited entry is E_STATE_CORRUPT naming the line', async () => {
    const store = openProfile(home, 'prod')
    expect(await store.readJournal()).toEqual([])
    await store.journal('one')
    const file = path.join(store.dir, 'journal.jsonl')
    await writeFile(file, `${await readFile(file, 'utf8')}{"at":"yesterday","pid":1,"event":"x"}\n`)
    const error = await store.readJournal().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(DatainError)
    expect((error as DatainError).code).toBe('E_STATE_CORRUPT')
    expect((error as DatainError).message).toContain(file)
    expect((error as DatainError).message).toContain('line 2: at:')
  })
})
