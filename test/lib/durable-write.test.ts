import {execa} from 'execa'
import {mkdtemp, readdir, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {writeFileDurably} from '../../src/lib/durable-write.js'
import {processTag} from '../../src/lib/process-tag.js'

let dir: string

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'datain-durable-'))
})

afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('durable writes', () => {
  it('removes the temp copies crashed writes left in the folder, also when a new run has the dead one\'s pid, and keeps a write in progress', async () => {
    const dead = execa('true')
    await dead
    const file = path.join(dir, 'secrets.json')
    const leftovers = [
      `secrets.json.${dead.pid}.0123456789ab.tmp`, // an older datain, pid only, gone
      `secrets.json.${process.pid}.0123456789ac.tmp`, // an older datain whose pid this run has now
      `secrets.json.${process.pid}-1.0123456789ad.tmp`, // a run that had this pid, started at another time (a container)
      `secrets.json.${dead.pid}-2.0123456789ae.tmp`,
    ]
    const kept = [`secrets.json.${processTag()}.0123456789af.tmp`, 'secrets.json.bak', 'notes.1.tmp', 'checkpoint.json']
    for (const name of [...leftovers, ...kept]) await writeFile(path.join(dir, name), '{"replicationPassword":"old"}', {mode: 0o600})

    // The checkpoint is what every run writes: the secrets' leftovers go then too.
    await writeFileDurably(path.join(dir, 'checkpoint.json'), '{}')
    expect((await readdir(dir)).sort()).toEqual([...kept].sort())
    await writeFileDurably(file, '{"replicationPassword":"new"}')
    expect((await readdir(dir)).sort()).toEqual([...kept, 'secrets.json'].sort())
    expect(await readFile(file, 'utf8')).toBe('{"replicationPassword":"new"}')
  })

  it('writes the file owner-only whatever the umask', async () => {
    const previous = process.umask(0)
    try {
      const file = path.join(dir, 'secrets.json')
      await writeFileDurably(file, 'x')
      expect((await stat(file)).mode & 0o777).toBe(0o600)
      expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([])
    } finally {
      process.umask(previous)
    }
  })
})
