/**
 * `npm run sandbox -- up|down|env|status [--name N] [--target azure-mariadb|mariadb] [--rows N] [--procedure-schema mysql|mariadb] [--tier T]`
 *
 * Starts the local stand-in for Azure Database for MariaDB (or a plain MariaDB replica) in the background, says how to reach it,
 * prints its settings as `export` lines, and takes it down again leaving nothing behind.
 */
import {spawn} from 'node:child_process'
import {closeSync, openSync} from 'node:fs'
import {readFile, rm} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {mkdir} from 'node:fs/promises'
import {isAlive, readRecord, recordPath, registryDir, removeRecord, type SandboxRecord} from './registry.js'
import type {AnySandboxOptions, SandboxTarget} from './sandbox.js'

const here = path.dirname(fileURLToPath(import.meta.url))

const {positionals, values} = parseArgs({
  allowPositionals: true,
  options: {
    name: {type: 'string', default: 'default'},
    target: {type: 'string'},
    rows: {type: 'string'},
    'procedure-schema': {type: 'string'},
    tier: {type: 'string'},
    help: {type: 'boolean', short: 'h'},
  },
})

const usage = `usage: npm run sandbox -- <up|down|env|status> [--name NAME]
  up      start a source, an emulated Azure replica behind its gateway, and an emulated ARM endpoint
          [--target azure-mariadb|mariadb] mariadb: a plain MariaDB replica instead, reached directly (default azure-mariadb)
          [--rows N] sample rows on the source (default 1000; 0 for none)
          [--procedure-schema mysql|mariadb] where the az_replication_* procedures live (default mysql)
          [--tier Basic|GeneralPurpose|MemoryOptimized] the replica's pricing tier (default GeneralPurpose)
  env     print the export lines for datain and for a person:  eval "$(npm run -s sandbox -- env)"
  status  say whether the sandbox runs, and how to reach it
  down    stop everything 'up' started and remove its files`

const shellQuote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`

async function up(name: string): Promise<void> {
  // Wrong options are refused before anything else, even when a sandbox of that name already runs.
  const options: AnySandboxOptions = {}
  if (values.target !== undefined) {
    const targets: readonly SandboxTarget[] = ['azure-mariadb', 'mariadb']
    if (!targets.includes(values.target as SandboxTarget)) fail(`--target takes azure-mariadb or mariadb, not '${values.target}'.`)
    options.target = values.target as SandboxTarget
  }
  if (values.rows !== undefined) options.sampleRows = Number(values.rows)
  if (values['procedure-schema']) options.procedureSchema = values['procedure-schema'] as AnySandboxOptions['procedureSchema']
  if (values.tier) options.tier = values.tier as AnySandboxOptions['tier']
  if (options.sampleRows !== undefined && !(Number.isInteger(options.sampleRows) && options.sampleRows >= 0)) {
    fail(`--rows takes a whole number, not '${values.rows}'.`)
  }

  const existing = await readRecord(name)
  if (existing && isAlive(existing.pid)) {
    console.log(`The sandbox '${name}' already runs (pid ${existing.pid}):`)
    printSummary(existing)
    return
  }
  if (existing) await cleanUp(existing)

  await mkdir(registryDir(), {recursive: true, mode: 0o700})
  const logFile = path.join(registryDir(), `${name}.log`)
  const log = openSync(logFile, 'w', 0o600)
  const daemon = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'daemon.ts'), name, JSON.stringify(options)], {
    detached: true,
    stdio: ['ignore', log, log],
  })
  closeSync(log)
  let exited = false
  daemon.once('exit', () => (exited = true))
  daemon.unref()

  process.stderr.write(`Starting the sandbox '${name}'`)
  const deadline = Date.now() + 180_000
  while (Date.now() < deadline) {
    const record = await readRecord(name)
    if (record) {
      process.stderr.write(' ready.\n')
      printSummary(record)
      return
    }
    if (exited) break
    process.stderr.write('.')
    await sleep(500)
  }
  process.stderr.write(' failed.\n')
  if (!exited) process.kill(daemon.pid!, 'SIGTERM')
  const output = await readFile(logFile, 'utf8').catch(() => '')
  fail(`The sandbox did not start. Its log (${logFile}) ends with:\n${output.split('\n').slice(-20).join('\n')}`)
}

function printSummary(record: SandboxRecord): void {
  for (const line of record.summary) console.log(line)
  console.log('')
  console.log(`Settings for datain and the mariadb client:  eval "$(npm run -s sandbox -- env${record.name === 'default' ? '' : ` --name ${record.name}`})"`)
  console.log('Then, for example:  mariadb -h "$DATAIN_SOURCE_HOST" -P "$DATAIN_SOURCE_PORT" -u "$DATAIN_SOURCE_USER" -p"$DATAIN_SOURCE_PASSWORD" --ssl-ca="$DATAIN_SOURCE_SSL_CA"')
}

async function down(name: string): Promise<void> {
  const record = await readRecord(name)
  if (!record) {
    console.log(`No sandbox named '${name}' is running.`)
    return
  }
  if (isAlive(record.pid)) {
    process.kill(record.pid, 'SIGTERM')
    const deadline = Date.now() + 60_000
    while (isAlive(record.pid) && Date.now() < deadline) await sleep(200)
  }
  await cleanUp(record)
  console.log(`The sandbox '${name}' is down; its servers are stopped and ${record.dir} is removed.`)
}

/** Ends whatever the daemon left (it may have been killed) and removes the sandbox's files. */
async function cleanUp(record: SandboxRecord): Promise<void> {
  for (const pid of [record.pid, ...record.serverPids]) {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  }
  for (const pid of record.serverPids) {
    const deadline = Date.now() + 10_000
    while (isAlive(pid) && Date.now() < deadline) await sleep(100)
  }
  await rm(record.dir, {recursive: true, force: true})
  await removeRecord(record.name)
  await rm(path.join(registryDir(), `${record.name}.log`), {force: true})
}

async function printEnv(name: string): Promise<void> {
  const record = await readRecord(name)
  if (!record || !isAlive(record.pid)) fail(`No sandbox named '${name}' is running: start it with npm run sandbox -- up`)
  for (const [key, value] of Object.entries(record.env)) console.log(`export ${key}=${shellQuote(value)}`)
}

async function status(name: string): Promise<void> {
  const record = await readRecord(name)
  if (!record || !isAlive(record.pid)) {
    console.log(`No sandbox named '${name}' is running.`)
    process.exitCode = 1
    return
  }
  console.log(`The sandbox '${name}' runs since ${record.startedAt} (pid ${record.pid}, state in ${recordPath(name)}):`)
  printSummary(record)
}

function fail(message: string): never {
  console.error(message)
  process.exit(2)
}

const [command] = positionals
if (values.help || !command) {
  console.log(usage)
} else {
  const name = values.name!
  const commands: Record<string, (n: string) => Promise<void>> = {up, down, env: printEnv, status}
  const run = commands[command]
  if (!run) fail(`Unknown sandbox command '${command}'.\n${usage}`)
  await run(name)
}
