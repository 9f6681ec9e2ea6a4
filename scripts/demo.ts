/**
 * `npm run demo`: a newcomer's first look. Starts the local sandbox (a source MariaDB, an emulated
 * Azure replica behind its gateway, an emulated ARM endpoint) and walks datain through it, saying
 * in a line what each command does.
 */
import {execa} from 'execa'
import {existsSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {mariadbBinary} from '../sandbox/mariadb-server.js'
import {startSandbox} from '../sandbox/sandbox.js'

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

async function main(): Promise<void> {
  await ensureMariaDb()
  // The demo runs the CLI as users get it, bin/run.js over dist/: build it from the current sources.
  await execa('npm', ['run', '-s', 'build'], {cwd: root, stdio: 'inherit'})

  say('Starting the sandbox: a source MariaDB with sample data, an emulated Azure replica behind its gateway, an emulated ARM endpoint')
  const sandbox = await startSandbox()
  const home = await mkdtemp(path.join(tmpdir(), 'datain-demo-'))
  const env = {...process.env, ...sandbox.env(), DATAIN_HOME: home}
  const datain = (...args: string[]) => execa(process.execPath, [path.join(root, 'bin', 'run.js'), ...args], {env, stdio: 'inherit', reject: false})
  try {
    say('datain init: records the profile, connects to both servers and to Azure, runs every preflight check; it changes nothing')
    console.log("  (the replica's firewall has no rule yet, so Azure's gateway refuses datain: the replica's checks are reported as not run)")
    await datain('init')

    say('The sandbox adds a firewall rule for this machine (datain start will add it through ARM itself); then init again')
    sandbox.azure.state.firewallRules.set('demo-client', {name: 'demo-client', startIpAddress: '127.0.0.1', endIpAddress: '127.0.0.1'})
    await datain('init')

    say('The same report for scripts: datain init --json (its first lines)')
    const json = await execa(process.execPath, [path.join(root, 'bin', 'run.js'), 'init', '--json'], {env, reject: false})
    console.log(`${String(json.stdout).split('\n').slice(0, 12).join('\n')}\n  ...`)

    say('Next: datain start (snapshot, link, replicate), status and stop come with the next issues.')
  } finally {
    await sandbox.stop()
    await rm(home, {recursive: true, force: true})
  }
}

await main()
