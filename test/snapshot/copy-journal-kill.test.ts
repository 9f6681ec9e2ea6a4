import {execa} from 'execa'
import {appendFile, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {tableFingerprints} from '../../sandbox/table-fingerprints.js'
import {CHECKPOINT_JOURNAL_FILE} from '../../src/state/checkpoint-journal.js'
import {datain, resultJson} from '../helpers/datain.js'
import {targetEnv} from '../helpers/targets.js'

/**
 * `datain start` killed with SIGKILL in the middle of a copy of many small tables: the checkpoint
 * names the journal of finished chunks, and the next start reads both, keeping what the journal says
 * is loaded (checked against the source) and loading the rest, whatever was done to the journal
 * meanwhile: a torn last line, garbage, a huge line, a line naming a table not in the plan or a
 * chunk never loaded, or the journal of another run.
 */

const root = path.resolve(import.meta.dirname, '../..')
const TABLES = 240

let sandbox: Sandbox
let home: string
let env: Record<string, string>

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  home = await mkdtemp(path.join(tmpdir(), 'datain-journal-kill-'))
  env = targetEnv(sandbox, home)
  const statements = ['DROP DATABASE IF EXISTS many', 'CREATE DATABASE many']
  for (let t = 1; t <= TABLES; t++) {
    statements.push(`CREATE TABLE many.t${t} (id INT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL, KEY (v)) ENGINE=InnoDB`)
    statements.push(`INSERT INTO many.t${t} SELECT seq, CONCAT('row ', seq, ' of ', ${t}) FROM many.seq_1_to_${20 + (t % 13)}`)
  }
  await sandbox.source.server.execute(statements)
})

afterAll(async () => {
  await sandbox?.stop()
  if (home) await rm(home, {recursive: true, force: true})
})

interface Snapshot {
  state: string
  output?: {copy?: {tables: Array<{name: string; done: number[]}>; journal?: string}; resumed?: {keptChunks: number; reloadedChunks: number}}
}

const profileDir = (profile: string) => path.join(home, 'profiles', profile)
const journalFile = (profile: string) => path.join(profileDir(profile), CHECKPOINT_JOURNAL_FILE)

async function snapshotRecord(profile: string): Promise<Snapshot> {
  const checkpoint = JSON.parse(await readFile(path.join(profileDir(profile), 'checkpoint.json'), 'utf8')) as {steps: {snapshot: Snapshot}}
  return checkpoint.steps.snapshot
}

/** Lines of the journal that record a chunk done. */
async function doneLines(profile: string): Promise<number> {
  const text = await readFile(journalFile(profile), 'utf8').catch(() => '')
  return text.split('\n').filter((l) => l.includes('"c":')).length
}

/** `datain start` killed with SIGKILL once the journal records `chunks` chunks done. */
async function killMidCopy(profile: string, chunks: number): Promise<void> {
  const child = execa(process.execPath, [path.join(root, 'bin', 'run.js'), 'start', '--profile', profile, '--parallel', '2'], {
    env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env},
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  })
  const deadline = Date.now() + 120_000
  while ((await doneLines(profile)) < chunks) {
    if (child.exitCode !== null) throw new Error(`datain start ended before the kill: ${(await child).stderr}`)
    if (Date.now() > deadline) throw new Error('timed out waiting for the journal')
    await sleep(20)
  }
  child.kill('SIGKILL')
  const result = await child
  expect(result.signal).toBe('SIGKILL')
}

function parsed<T>(line: string): T | undefined {
  try {
    return JSON.parse(line) as T
  } catch {
    // The last line, torn by the kill.
    return undefined
  }
}

async function reset(): Promise<void> {
  await sandbox.replica.server.execute(['STOP ALL SLAVES', "RESET SLAVE '' ALL", 'DROP DATABASE IF EXISTS many'])
  await sandbox.source.server.execute(["DROP USER IF EXISTS 'datain_repl'@'%'"])
  sandbox.azure.state.firewallRules.clear()
}

async function expectIdentical(): Promise<void> {
  const [{pos}] = (await sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
  const [row] = await sandbox.replica.server.query<Array<{ok: number | null}>>('SELECT MASTER_GTID_WAIT(?, 60) = 0 AS ok', [pos])
  expect(Number(row?.ok)).toBe(1)
  expect(await tableFingerprints(sandbox.replica.server, ['many'], {extended: true})).toEqual(await tableFingerprints(sandbox.source.server, ['many'], {extended: true}))
}

async function resume(profile: string) {
  const result = await datain(['start', '--profile', profile, '--parallel', '2', '--json'], env)
  expect(result.exitCode, result.stderr).toBe(0)
  const report = resultJson<{steps: Array<{id: string; output?: Snapshot['output']}>}>(result.stdout)
  return report.steps.find((s) => s.id === 'snapshot')!.output!
}

describe('the copy journal, after kill -9', () => {
  it('resumes from the checkpoint and its journal, despite a torn, garbage, huge or hostile line', async () => {
    await reset()
    expect((await datain(['init', '--profile', 'killed', '--databases', 'many'], env)).exitCode).toBe(0)
    await killMidCopy('killed', 60)

    // The checkpoint names the journal and holds the plan (one slice: every table), none done: the
    // chunks done are lines of the journal only.
    const killed = await snapshotRecord('killed')
    expect(killed.state).toBe('running')
    const copy = killed.output!.copy!
    expect(copy.journal).toMatch(/^[0-9a-f]{16}$/)
    expect(copy.tables).toHaveLength(TABLES)
    expect(copy.tables.every((t) => t.done.length === 0)).toBe(true)
    const text = await readFile(journalFile('killed'), 'utf8')
    expect(JSON.parse(text.split('\n')[0]!)).toMatchObject({journal: copy.journal})
    const planned = text.split('\n').filter((l) => l.includes('"table":')).length + copy.tables.length
    const done = new Set(text.split('\n').flatMap((l) => (l.includes('"c":') ? [parsed<{t: number}>(l)?.t ?? -1] : [])).filter((t) => t >= 0))
    expect(done.size).toBeGreaterThanOrEqual(59)
    // A table planned, not loaded (empty on the replica: not one loaded whose line the kill cut off),
    // that a forged line says is loaded.
    let forged: number | undefined
    for (let t = 0; t < planned && forged === undefined; t++) {
      if (done.has(t)) continue
      const [row] = await sandbox.replica.server.query<Array<{n: bigint}>>(`SELECT COUNT(*) AS n FROM many.\`${copy.tables[t]!.name}\``)
      if (Number(row!.n) === 0) forged = t
    }
    expect(forged).toBeDefined()
    // On a line of their own: the kill may have torn the last line.
    await appendFile(
      journalFile('killed'),
      '\n' +
      [
        JSON.stringify({t: forged, c: 0}),
        JSON.stringify({t: 99_999, c: 0}),
        JSON.stringify({t: planned + 5, table: {database: 'many', name: 't1', definition: 'x', bounds: [], done: [0]}}),
        `{"t":0,"pad":"${'x'.repeat(1024 * 1024)}"}`,
        'garbage',
        '{"t":1,"c"',
      ].join('\n'),
    )

    const output = await resume('killed')
    // Kept what the journal said was loaded, after checking it; the forged chunk was found empty and
    // loaded (one chunk a table); no other line counted.
    expect(output.resumed!.keptChunks).toBe(done.size)
    expect(output.resumed!.reloadedChunks).toBe(TABLES - done.size)
    await expectIdentical()
    // Done: the output holds no record, so the journal (replaced by the next copy) is named by nothing.
    const finished = await snapshotRecord('killed')
    expect(finished.state).toBe('done')
    expect(finished.output!.copy).toBeUndefined()
  })

  it("does not read another run's or another profile's journal: what it says is checked and loaded again", async () => {
    await reset()
    expect((await datain(['init', '--profile', 'other', '--databases', 'many'], env)).exitCode).toBe(0)
    await killMidCopy('other', 40)
    const lines = (await readFile(journalFile('other'), 'utf8')).split('\n')
    const header = JSON.parse(lines[0]!) as {journal: string; fingerprint: string}
    // Same run, other servers (a journal copied from another profile).
    await writeFile(journalFile('other'), [JSON.stringify({...header, fingerprint: '0000000000000000'}), ...lines.slice(1)].join('\n'))
    const output = await resume('other')
    // Only the checkpoint's own tables were known (none of them done there): nothing kept.
    expect(output.resumed!.keptChunks).toBe(0)
    await expectIdentical()
  })
})
