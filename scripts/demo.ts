/**
 * `npm run demo`: a newcomer's first look. Starts the local sandbox (a source MariaDB, an emulated
 * Azure replica behind its gateway, an emulated ARM endpoint) and walks datain through it, saying
 * in a line what each command does. `npm run demo -- --target mariadb` does the same against a
 * plain MariaDB replica (no gateway, no ARM), and ends with a cutover.
 */
import {execa} from 'execa'
import {existsSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {mariadbBinary} from '../sandbox/mariadb-server.js'
import {type SandboxTarget, startSandbox} from '../sandbox/sandbox.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const say = (text: string) => console.log(`\n\x1b[1m▶ ${text}\x1b[0m`)

async function ensureMariaDb(): Promise<void> {
  const missing = ['mariadbd', 'mariadb-install-db', 'mariadb', 'mariadb-dump'].filter((b) => !mariadbBinary(b))
  if (missing.length === 0) return
  const packages = 'mariadb-server mariadb-client'
  const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')
  if (!canInstall) {
    console.error(`The demo needs MariaDB's server and client binaries (missing: ${missing.join(', ')}).`)
    console.error(`Install the packages ${packages} (Debian/Ubuntu: sudo apt-get install -y ${packages}), then run npm run demo again.`)
    process.exit(1)
  }
  say(`MariaDB's binaries are missing (${missing.join(', ')}): installing ${packages} with apt-get`)
  const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'}
  await execa('apt-get', ['update', '-qq'], {stdio: 'inherit', env})
  await execa('apt-get', ['install', '-y', '-qq', ...packages.split(' ')], {stdio: 'inherit', env})
}

/** `--target mariadb` (or DATAIN_TARGET): the replica the demo sets up; Azure's emulation by default. */
function demoTarget(): SandboxTarget {
  const at = process.argv.indexOf('--target')
  const value = at >= 0 ? process.argv[at + 1] : process.env.DATAIN_TARGET
  if (value === undefined || value === 'azure-mariadb') return 'azure-mariadb'
  if (value === 'mariadb') return 'mariadb'
  console.error(`--target ${value}: the demo knows azure-mariadb (the default) and mariadb.`)
  process.exit(2)
}

async function main(): Promise<void> {
  const target = demoTarget()
  await ensureMariaDb()
  // The demo runs the CLI as users get it, bin/run.js over dist/: build it from the current sources.
  await execa('npm', ['run', '-s', 'build'], {cwd: root, stdio: 'inherit'})

  say(
    target === 'mariadb'
      ? 'Starting the sandbox: a source MariaDB with sample data, and a plain MariaDB replica you administer (no gateway, no ARM)'
      : 'Starting the sandbox: a source MariaDB with sample data, an emulated Azure replica behind its gateway, an emulated ARM endpoint',
  )
  const sandbox = await startSandbox({target})
  const home = await mkdtemp(path.join(tmpdir(), 'datain-demo-'))
  const env = {...process.env, ...sandbox.env(), DATAIN_HOME: home}
  const datain = (...args: string[]) => execa(process.execPath, [path.join(root, 'bin', 'run.js'), ...args], {env, stdio: 'inherit', reject: false})
  try {
    if (target === 'mariadb') {
      say("datain init --target mariadb: records the profile, connects to both servers, runs every preflight check (Azure's: not applicable); it changes nothing")
      // The replica runs on this machine: the source's CA file is on the replica's host too.
      await datain('init', '--link-ssl-ca', sandbox.source.sslCa)
    } else {
      say('datain init: records the profile, connects to both servers and to Azure, runs every preflight check; it changes nothing')
      console.log("  (the replica's firewall has no rule yet, so Azure's gateway refuses datain: the replica's checks are reported as not run)")
      await datain('init')
    }

    say('datain start --dry-run: the plan, each step with its SQL and ARM calls, secrets masked; nothing is changed')
    await datain('start', '--dry-run')

    say('datain start: preflight, binlog, replication user, firewall, snapshot, link, replicate; a checkpoint after each step')
    await datain('start')

    say('A row written on the source now arrives on the replica through replication')
    const note = `hello from the demo at ${new Date().toISOString()}`
    await sandbox.source.server.query("UPDATE shop.orders SET `delivery note` = ? WHERE id = 1", [note])
    console.log(`  source : UPDATE shop.orders SET \`delivery note\` = '${note}' WHERE id = 1`)
    const deadline = Date.now() + 20_000
    let seen: string | undefined
    while (Date.now() < deadline && seen !== note) {
      const [row] = await sandbox.replica.server.query<Array<{n: string}>>('SELECT `delivery note` AS n FROM shop.orders WHERE id = 1')
      seen = row?.n
      if (seen !== note) await new Promise((r) => setTimeout(r, 200))
    }
    console.log(`  replica: ${seen === note ? `'${seen}'` : 'not arrived within 20 s'}`)
    if (seen !== note) process.exitCode = 1

    say('datain status: the steps from the checkpoint, and replication live from the replica (threads, true lag, errors)')
    await datain('status')

    say('datain start again: the copy is done, so it only checks and makes sure replication runs')
    await datain('start')

    if (target === 'mariadb') {
      say('datain stop --cutover --cleanup: the source made read-only, the replica catches up, the link removed, what datain created removed')
      await datain('stop', '--cutover', '--cleanup')
    }
  } finally {
    await sandbox.stop()
    await rm(home, {recursive: true, force: true})
  }
}

await main()
