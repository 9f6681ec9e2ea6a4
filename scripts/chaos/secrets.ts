/**
 * Group 4, secrets: every process's argv polled every 20 ms during whole runs, and every output
 * and state file, must hold no password (source, replica, replication, a wrong one given, the ARM
 * token); folders 0700, files 0600. Group 5, least privilege: the replication user holds
 * REPLICATION SLAVE only (REQUIRE SSL when the source speaks TLS), and hostile names prove that no
 * SQL pastes user input unescaped.
 */
import type {AzureSandbox} from '../../sandbox/sandbox.js'
import {randomBytes} from 'node:crypto'
import {readdir, readFile, stat} from 'node:fs/promises'
import path from 'node:path'
import {
  cleanFailureProblem,
  datain,
  dispose,
  Group,
  newEnv,
  pollArgv,
  leakedSecrets,
  replicationPassword,
  type CheckResult,
  type CliResult,
  type Env,
} from './lib.js'

/** `env`: a sandbox and a DATAIN_HOME of the caller's (kept), else new ones (removed). */
export async function secretsAndPrivilegeGroups(o: {full: boolean; hostileChecks?: CheckResult[]; env?: Env<AzureSandbox>}): Promise<Group[]> {
  const secrets = new Group('secrets')
  const privilege = new Group('least privilege')
  let e: Env<AzureSandbox> | undefined = o.env
  let samples = 0
  let outputs = 0
  let files = 0
  try {
    e ??= await newEnv({sampleRows: 200})
    const wrong = `Wr'o"ng$\\${randomBytes(6).toString('hex')}`
    const secretsOf = async (): Promise<Record<string, string>> => {
      const all: Record<string, string> = {
        'source password': e!.sandbox.source.password,
        'replica password': e!.sandbox.replica.password,
        'ARM token': e!.sandbox.azure.token,
        'a wrong password given': wrong,
      }
      const generated = await replicationPassword(e!)
      if (generated) all['replication password'] = generated
      return all
    }

    const poll = pollArgv(20)
    const runs: Array<[string, CliResult]> = []
    const run = async (label: string, args: string[], env: Record<string, string | undefined> = {}, exit?: number | number[]) => {
      const r = await datain(args, {...e!.env, ...env}, 300_000)
      runs.push([label, r])
      if (exit !== undefined) secrets.check(`${label} → exit ${exit}`, !(Array.isArray(exit) ? !exit.includes(r.exitCode) : r.exitCode !== exit), cleanFailureProblem(r, exit) ?? r.stderr.slice(-1000))
      return r
    }
    let argv: Set<string>
    try {
      await run('init', ['init'], {}, 0)
      await run('init --json', ['init', '--json'], {}, 0)
      await run('start --dry-run', ['start', '--dry-run'], {}, 0)
      await run('start --dry-run --json', ['start', '--dry-run', '--json'], {}, 0)
      await run('start --json', ['start', '--json'], {}, 0)
      if (o.full) {
        await run('start (again)', ['start'], {}, 0)
        await run('status', ['status'], {}, 0)
        await run('status --json', ['status', '--json'], {}, 0)
      }
      await run('an error: init with a wrong replica password', ['init', '-p', 'wrong', '--json'], {DATAIN_REPLICA_PASSWORD: wrong}, 4)
      await run('an error: start with a wrong source password', ['start'], {DATAIN_SOURCE_PASSWORD: wrong}, 4)
      if (o.full) await run('an error: init with a wrong source password (human)', ['init', '-p', 'wrong2'], {DATAIN_SOURCE_PASSWORD: wrong}, 4)
    } finally {
      const polled = await poll.stop()
      samples = polled.samples
      argv = polled.cmdlines
    }
    const all = await secretsOf()
    secrets.check('the replication password was generated and kept in the secrets file', 'replication password' in all, JSON.stringify(Object.keys(all)))

    const datainArgv = [...argv].filter((c) => c.includes('run.js') || /mariadb|mysql/.test(c))
    const inArgv = [...argv].flatMap((c) => leakedSecrets(c, all).map((label) => `${label} in: ${c.slice(0, 200)}`))
    secrets.check(
      `no password in any process's argv (${samples} polls of /proc every 20 ms, ${argv.size} distinct command lines, ${datainArgv.length} of datain and client tools)`,
      inArgv.length === 0 && datainArgv.some((c) => c.includes('run.js')),
      inArgv.join('\n') || 'never saw datain in the process list',
    )

    for (const [label, r] of runs) {
      outputs++
      const leaked = [...leakedSecrets(r.stdout, all).map((s) => `${s} on stdout`), ...leakedSecrets(r.stderr, all).map((s) => `${s} on stderr`)]
      secrets.check(`${label}: no password on stdout or stderr`, leaked.length === 0, leaked.join(', '))
    }
    const jsonRuns = runs.filter(([label]) => label.includes('--json'))
    // A run of start streams its events, one JSON object a line, the result last; the others print one document.
    const isJsonOutput = (label: string, stdout: string) =>
      /^start --json/.test(label) ? stdout.trim().split('\n').every((line) => isJson(line) && line.startsWith('{')) : isJson(stdout)
    secrets.check('--json outputs are JSON', jsonRuns.every(([label, r]) => isJsonOutput(label, r.stdout)), jsonRuns.map(([l, r]) => `${l}: ${r.stdout.slice(0, 100)}`).join('\n'))
    const masked = runs.find(([label]) => label === 'start --dry-run')?.[1].stdout ?? ''
    secrets.check('--dry-run shows the replication password as ***', masked.includes('***'), masked.slice(0, 1500))

    // DATAIN_HOME: no password in any file but the owner-only secrets file; folders 0700, files 0600.
    const leaks: string[] = []
    const modes: string[] = []
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, {withFileTypes: true})) {
        const full = path.join(dir, entry.name)
        const mode = (await stat(full)).mode & 0o777
        if (entry.isDirectory()) {
          if (mode !== 0o700) modes.push(`${full} ${mode.toString(8)}`)
          await walk(full)
          continue
        }
        files++
        if (mode !== 0o600) modes.push(`${full} ${mode.toString(8)}`)
        if (entry.name === 'secrets.json') continue
        for (const s of leakedSecrets(await readFile(full, 'utf8'), all)) leaks.push(`${s} in ${full}`)
      }
    }
    await walk(path.join(e.home, 'profiles'))
    secrets.check(`no password in DATAIN_HOME but the secrets file (${files} files)`, leaks.length === 0 && files > 0, leaks.join('\n'))
    secrets.check('folders 0700, files 0600 in DATAIN_HOME', modes.length === 0, modes.join('\n'))

    // Least privilege, on the user this setup created (the source speaks TLS).
    await privilegeChecks(privilege, e, 'datain_repl', true)
    if (o.full) {
      const plain = await newEnv({sampleRows: 50, source: {tls: false}})
      try {
        const refused = await datain(['init'], {...plain.env, DATAIN_SOURCE_SSL_CA: undefined})
        privilege.check(
          'a source without TLS and no --source-ssl off: init refused (exit 4), naming both ways out',
          refused.exitCode === 4 && refused.stderr.includes('--source-ssl off') && refused.stderr.includes('--source-ssl-ca'),
          refused.stderr,
        )
        const env = {...plain.env, DATAIN_SOURCE_SSL_CA: undefined, DATAIN_SOURCE_SSL: 'off'}
        const init = await datain(['init'], env)
        // Stop once the user exists: the firewall step is not needed to read its grants.
        const r = await datain(['start'], {...env, DATAIN_TEST_CRASH_AT: 'firewall:start'})
        privilege.check('a source without TLS and --source-ssl off: init passes, the replication-user step runs', init.exitCode === 0 && r.signal === 'SIGKILL', init.stderr + r.stderr)
        await privilegeChecks(privilege, plain, 'datain_repl', false)
      } finally {
        await dispose(plain)
      }
    }
    for (const c of o.hostileChecks ?? []) privilege.check(`${c.name} (from bad input)`, c.ok, c.detail)
  } catch (error) {
    secrets.check('the secrets group ran', false, (error as Error)?.stack ?? String(error))
  } finally {
    if (!o.env) await dispose(e)
  }
  secrets.summary = `secrets: ${samples} argv polls, ${outputs} outputs and ${files} state files scanned; ${secrets.passed} checks passed, ${secrets.failed} failed`
  privilege.summary = `least privilege: ${privilege.passed} checks passed, ${privilege.failed} failed`
  return [secrets, privilege]
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** SHOW GRANTS exactly `GRANT REPLICATION SLAVE ON *.*`, and REQUIRE SSL exactly when the source speaks TLS. */
async function privilegeChecks(group: Group, e: Env<AzureSandbox>, user: string, tls: boolean): Promise<void> {
  const source = e.sandbox.source.server
  const grants = (await source.query<Array<Record<string, string>>>('SHOW GRANTS FOR ?@?', [user, '%'])).map((g) => Object.values(g)[0] ?? '')
  const expected = new RegExp(`^GRANT REPLICATION SLAVE ON \\*\\.\\* TO \`${user}\`@\`%\` IDENTIFIED BY PASSWORD '\\*[0-9A-F]{40}'${tls ? ' REQUIRE SSL' : ''}$`)
  group.check(`${tls ? 'TLS' : 'no TLS'}: SHOW GRANTS is exactly REPLICATION SLAVE ON *.*`, grants.length === 1 && expected.test(grants[0]!), grants.join('\n'))
  const [create] = await source.query<Array<Record<string, string>>>('SHOW CREATE USER ?@?', [user, '%'])
  const text = Object.values(create ?? {})[0] ?? ''
  group.check(`${tls ? 'TLS' : 'no TLS'}: REQUIRE SSL ${tls ? 'set' : 'not set'}`, /REQUIRE SSL/.test(text) === tls, text)
  const [row] = await source.query<Array<{n: bigint}>>(
    "SELECT COUNT(*) AS n FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE LIKE CONCAT('''', ?, '''@%')",
    [user],
  )
  group.check(`${tls ? 'TLS' : 'no TLS'}: no database-level privilege`, Number(row?.n) === 0, `${row?.n} schema privileges`)
}
