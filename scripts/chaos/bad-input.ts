/**
 * Group 3, bad input: each case gives one paragraph, product.md's exit code, no stack trace, and
 * changes nothing on either server or in Azure (binlog position, GTID, accounts, firewall rules, no
 * ARM PUT/DELETE). Then hostile names (quotes, backticks, spaces, unicode) in a database, a table
 * and the replication user: init and start must work end to end and the replica hold them identical.
 */
import {readdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {quoteIdentifier} from '../../src/lib/sql.js'
import {
  cleanFailureProblem,
  datain,
  datainUnderShell,
  dispose,
  Group,
  newEnv,
  replicaDiff,
  worldDiff,
  worldState,
  type CliResult,
  type Env,
} from './lib.js'

/** A database, a table, a column and a replication user no SQL pasted together would survive. */
export const HOSTILE = {
  database: `chaos o'k "d" \`b\` ü✓`,
  table: `t'a "b" \`l\` é`,
  column: `v a'l "c"`,
  // ASCII: MariaDB's replication thread cannot log in as a non-ASCII user (init refuses one).
  user: `r'e "p" \`l\` x`,
}

interface Case {
  name: string
  args: string[]
  exit: number | number[]
  env?: Record<string, string | undefined>
  /** Prepares the profile (runs before the world is read). */
  setup?: (e: Env) => Promise<void>
  /** datain run under `bash -c '<shell>; exec node …'`. */
  shell?: string
  /** Checked after the run: what else must hold (e.g. a state file intact). Undefined when fine. */
  after?: (e: Env, r: CliResult) => Promise<string | undefined>
  /** Part of the smaller set `npm test` runs. */
  smoke?: boolean
}

const profileDir = (e: Env, profile: string) => path.join(e.home, 'profiles', profile)

async function initProfile(e: Env, profile: string): Promise<void> {
  const r = await datain(['init', '-p', profile], e.env)
  if (r.exitCode !== 0) throw new Error(`init -p ${profile} failed: ${r.stderr}`)
}

/** Snapshot of a profile folder's files; `after` compares them (temp files left behind count too). */
async function filesOf(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const f of await readdir(dir)) out[f] = await readFile(path.join(dir, f), 'utf8')
  return out
}

export function badInputCases(): Case[] {
  let before: Record<string, string> = {}
  const fullDiskAfter = (profile: string, file: string) => async (e: Env) => {
    const now = await filesOf(profileDir(e, profile))
    const problems: string[] = []
    if (now[file] !== before[file]) problems.push(`${file} changed: ${JSON.stringify(before[file]?.slice(0, 200))} → ${JSON.stringify(now[file]?.slice(0, 200))}`)
    const strays = Object.keys(now).filter((f) => f.endsWith('.tmp'))
    if (strays.length) problems.push(`temp files left: ${strays.join(', ')}`)
    return problems.length ? problems.join('; ') : undefined
  }
  return [
    {name: 'init --source-port 0', args: ['init', '-p', 'b1', '--source-port', '0'], exit: 2, smoke: true},
    {name: 'init --replica-port 99999', args: ['init', '-p', 'b2', '--replica-port', '99999'], exit: 2},
    {name: 'init --source-host "db one"', args: ['init', '-p', 'b3', '--source-host', 'db one'], exit: 2},
    {name: 'init --client-ip 1.2.3.999', args: ['init', '-p', 'b4', '--client-ip', '1.2.3.999'], exit: 2},
    {name: 'init --source-ip 1.2.3.999', args: ['init', '-p', 'b4b', '--source-ip', '1.2.3.999'], exit: 2},
    // Azure reads a rule for 0.0.0.0 as "allow all Azure services": never an address datain opens the firewall to.
    {name: 'init --client-ip 0.0.0.0', args: ['init', '-p', 'b4c', '--client-ip', '0.0.0.0'], exit: 2},
    {name: 'init --source-ip 10.0.0.0/8 (a range)', args: ['init', '-p', 'b4d', '--source-ip', '10.0.0.0/8'], exit: 2},
    {name: 'init --source-ssl maybe', args: ['init', '-p', 'b4e', '--source-ssl', 'maybe'], exit: 2},
    {name: 'init --replication-user with a non-ASCII name', args: ['init', '-p', 'b6', '--replication-user', 'repl_ü'], exit: 2},
    {name: "init --databases ' , '", args: ['init', '-p', 'b5', '--databases', ' , '], exit: 2},
    {name: 'start -p nope (unknown profile)', args: ['start', '-p', 'nope'], exit: 2, smoke: true},
    {name: 'status -p nope (unknown profile)', args: ['status', '-p', 'nope'], exit: 2},
    {
      name: 'start with a corrupted checkpoint',
      args: ['start', '-p', 'corrupt'],
      exit: 1,
      smoke: true,
      setup: async (e) => {
        await initProfile(e, 'corrupt')
        await writeFile(path.join(profileDir(e, 'corrupt'), 'checkpoint.json'), '{"version": 1, "steps": {"preflight": ]]garbage\u0000')
      },
      after: async (_e, r) => (/checkpoint\.json/.test(r.stderr) ? undefined : 'the message does not name checkpoint.json'),
    },
    {
      name: 'status with a corrupted checkpoint',
      args: ['status', '-p', 'corrupt'],
      exit: 1,
    },
    {
      name: 'start with a profile written by a newer datain (version 99)',
      args: ['start', '-p', 'newer'],
      exit: 2,
      setup: async (e) => {
        await initProfile(e, 'newer')
        const file = path.join(profileDir(e, 'newer'), 'settings.json')
        await writeFile(file, JSON.stringify({...JSON.parse(await readFile(file, 'utf8')), version: 99}))
      },
    },
    {
      name: 'init with DATAIN_HOME under /proc/self (cannot be written)',
      args: ['init', '-p', 'ro'],
      exit: 1,
      env: {DATAIN_HOME: '/proc/self/datain-home'},
    },
    {
      name: 'init with DATAIN_HOME a file where a folder is expected',
      args: ['init', '-p', 'ro'],
      exit: 1,
      smoke: true,
      setup: async (e) => {
        await writeFile(path.join(e.home, 'a-file'), 'not a folder\n')
      },
      env: {DATAIN_HOME: 'FILE'},
    },
    {
      name: 'init --force under a full disk (ulimit -f 0: EFBIG at the first write); settings.json intact',
      args: ['init', '-p', 'full', '--force', '--databases', 'shop'],
      exit: 1,
      smoke: true,
      shell: 'ulimit -f 0',
      setup: async (e) => {
        await initProfile(e, 'full')
        before = await filesOf(profileDir(e, 'full'))
      },
      after: fullDiskAfter('full', 'settings.json'),
    },
    {
      name: 'start under a full disk (ulimit -f 1: EFBIG half-way through a journal append); state readable',
      args: ['start', '-p', 'full2'],
      exit: 1,
      shell: 'ulimit -f 1',
      setup: async (e) => {
        await initProfile(e, 'full2')
        // A long history: the journal just under the 1 KiB limit, so that start's first append crosses it.
        const file = path.join(profileDir(e, 'full2'), 'journal.jsonl')
        const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean)
        let text = ''
        for (let i = 0; (text + lines[i % lines.length]!).length < 1000 && i < 100; i++) text += `${lines[i % lines.length]}\n`
        // Then a line that brings it to 1,010 bytes whatever the length of init's lines: any append
        // (the shortest is some 60 bytes) crosses 1 KiB. Without it, lines of some lengths left room
        // for start's first appends, and start got as far as Azure before the disk was full.
        const pad = (n: number) => `${JSON.stringify({at: new Date().toISOString(), pid: 1, event: 'padding', pad: 'x'.repeat(n)})}\n`
        const room = 1010 - Buffer.byteLength(text) - Buffer.byteLength(pad(0))
        if (room >= 0) text += pad(room)
        await writeFile(file, text)
        before = await filesOf(profileDir(e, 'full2'))
      },
      after: async (e) => {
        const now = await filesOf(profileDir(e, 'full2'))
        const problems: string[] = []
        if (!(now['journal.jsonl'] ?? '').startsWith(before['journal.jsonl'] ?? '\u0000')) problems.push('the journal lost what it held')
        if (now['settings.json'] !== before['settings.json']) problems.push('settings.json changed')
        try {
          JSON.parse(now['checkpoint.json'] ?? '{}')
        } catch {
          problems.push(`checkpoint.json is not JSON: ${now['checkpoint.json']?.slice(0, 200)}`)
        }
        // A torn last line is what an append on a full disk leaves; the reader must skip it.
        const status = await datain(['status', '-p', 'full2', '--json'], e.env)
        if (/\n\s+at /.test(status.stderr) || !status.stdout.trim().startsWith('{')) problems.push(`status after it: exit ${status.exitCode} ${status.stderr.slice(-300)}`)
        const strays = Object.keys(now).filter((f) => f.endsWith('.tmp'))
        if (strays.length) problems.push(`temp files left: ${strays.join(', ')}`)
        return problems.length ? problems.join('; ') : undefined
      },
    },
  ]
}

export async function badInputGroup(o: {full: boolean; env?: Env}): Promise<Group> {
  const group = new Group('bad input')
  let cases = 0
  let clean = 0
  let unchanged = 0
  let hostile = 'not run'
  let e: Env | undefined = o.env
  try {
    e ??= await newEnv({sampleRows: 200})
    for (const c of badInputCases().filter((c) => o.full || c.smoke)) {
      await group.attempt(c.name, async () => {
        await c.setup?.(e!)
        const env = {...e!.env, ...c.env}
        if (env.DATAIN_HOME === 'FILE') env.DATAIN_HOME = path.join(e!.home, 'a-file')
        const before = await worldState(e!.sandbox)
        const r = c.shell ? await datainUnderShell(c.shell, c.args, env) : await datain(c.args, env, 120_000)
        const json = c.shell ? undefined : await datain([...c.args, '--json'], env, 120_000)
        const after = await worldState(e!.sandbox)
        cases++
        const problem = cleanFailureProblem(r, c.exit) ?? (json && jsonProblem(json, c.exit)) ?? (await c.after?.(e!, r))
        if (group.check(`${c.name} → exit ${c.exit}, one paragraph, no stack trace`, !problem, problem)) clean++
        const diff = worldDiff(before, after)
        if (group.check(`${c.name} → nothing changed on the servers or in Azure`, !diff, diff)) unchanged++
      })
    }
    if (o.full) {
      await group.attempt('hostile names', async () => {
        hostile = (await hostileNames(group, e!)) ? 'ok' : 'failed'
      })
    }
  } catch (error) {
    group.check('the bad-input group ran', false, (error as Error)?.stack ?? String(error))
  } finally {
    if (!o.env) await dispose(e)
  }
  group.summary =
    `bad input: ${cases} cases, ${clean} clean failures, ${unchanged} left every server unchanged; hostile names end to end: ${hostile}; ` +
    `${group.passed} checks passed, ${group.failed} failed`
  return group
}

function jsonProblem(r: CliResult, exit: number | number[]): string | undefined {
  const exits = Array.isArray(exit) ? exit : [exit]
  try {
    // start --json streams its events first, one a line: the error is then the last line.
    const error = (resultJson(r.stdout) as {error?: {exit?: number; message?: string}}).error
    if (!error || !exits.includes(Number(error.exit)) || !exits.includes(r.exitCode)) return `--json: exit ${r.exitCode}, ${r.stdout.slice(0, 300)}`
    if (/\n\s+at /.test(r.stdout + r.stderr)) return '--json: a stack trace'
    return undefined
  } catch {
    return `--json: stdout is not JSON: ${r.stdout.slice(0, 300)} ${r.stderr.slice(-300)}`
  }
}

/**
 * Hostile names end to end on the sandbox (the last thing done on it: it completes a setup). Also
 * used by the least-privilege group: its SHOW GRANTS must name REPLICATION SLAVE only.
 */
async function hostileNames(group: Group, e: Env): Promise<boolean> {
  const source = e.sandbox.source.server
  const db = quoteIdentifier(HOSTILE.database)
  const table = `${db}.${quoteIdentifier(HOSTILE.table)}`
  const column = quoteIdentifier(HOSTILE.column)
  await source.execute([
    `CREATE DATABASE ${db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    `CREATE TABLE ${table} (id INT PRIMARY KEY, ${column} VARCHAR(40) NOT NULL) ENGINE=InnoDB`,
    `CREATE VIEW ${db}.${quoteIdentifier(`v'w "x" ü`)} AS SELECT id, ${column} FROM ${table}`,
  ])
  for (let i = 1; i <= 50; i++) await source.query(`INSERT INTO ${table} VALUES (?, ?)`, [i, `it's "row" \`${i}\` ✓`])
  const profile = 'hostile'
  const init = await datain(['init', '-p', profile, '--replication-user', HOSTILE.user], e.env)
  group.check('hostile names: init passes', init.exitCode === 0, init.stderr + init.stdout.slice(-2000))
  const start = await datain(['start', '-p', profile], e.env, 300_000)
  group.check('hostile names: start completes', start.exitCode === 0, cleanFailureProblem(start, 0))
  await source.query(`UPDATE ${table} SET ${column} = ? WHERE id = 7`, [`after 'the' "copy" ü`])
  await source.query(`INSERT INTO ${table} VALUES (?, ?)`, [51, 'replicated'])
  const diff = await replicaDiff(e.sandbox, 60)
  group.check('hostile names: the replica holds the hostile database and table identical', !diff, diff)
  const grants = await source.query<Array<Record<string, string>>>('SHOW GRANTS FOR ?@?', [HOSTILE.user, '%']).catch((error: Error) => [{error: error.message}])
  const texts = grants.map((g) => Object.values(g)[0] ?? '')
  const onlySlave = texts.length === 1 && /^GRANT REPLICATION SLAVE ON \*\.\* TO /.test(texts[0]!)
  group.check('hostile names: the hostile replication user holds REPLICATION SLAVE only', onlySlave, texts.join('\n'))
  return init.exitCode === 0 && start.exitCode === 0 && !diff
}


/** The whole of stdout, or its last line when it holds several objects (one a line). */
function resultJson(stdout: string): unknown {
  try {
    return JSON.parse(stdout)
  } catch {
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '')
  }
}
