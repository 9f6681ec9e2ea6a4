/** The ways people copy a database by hand: a dump to a file, a pipe, mydumper + myloader. */
import {execa} from 'execa'
import {accessSync, constants} from 'node:fs'
import {rm, stat, writeFile} from 'node:fs/promises'
import path from 'node:path'
import type {Sandbox} from '../../sandbox/sandbox.js'
import {DATABASE} from './data.js'
import type {Measured} from './report.js'

// Dump and load options, as the Azure how-to and a careful DBA would write them: consistent, routines and all.
const DUMP = ['--single-transaction', '--master-data=2', '--gtid', '--routines', '--events', '--triggers', '--hex-blob', '--quick', '--default-character-set=utf8mb4', '--max-allowed-packet=1G']
const LOAD = ['--binary-mode', '--batch', '--default-character-set=utf8mb4', '--max-allowed-packet=1G']

export interface ToolContext {
  sandbox: Sandbox
  work: string
  optionsFile: {source: string; replica: string}
  threads: number
}

export async function runManual({sandbox, work, optionsFile}: ToolContext): Promise<Measured> {
  const file = path.join(work, 'dump.sql')
  const started = performance.now()
  // Shell redirections, as a person types them (and no byte through Node).
  await execa('bash', ['-c', `${shellLine('mariadb-dump', [...sourceArgs(sandbox, optionsFile), ...DUMP, '--databases', DATABASE])} > ${shellLine(file, [])}`], {env: childEnv(work)})
  const dumped = performance.now()
  await execa('bash', ['-c', `${shellLine('mariadb', [...replicaArgs(sandbox, optionsFile), ...LOAD])} < ${shellLine(file, [])}`], {env: childEnv(work)})
  const seconds = (performance.now() - started) / 1000
  const bytes = (await stat(file)).size
  await rm(file)
  return {seconds, note: `dump ${((dumped - started) / 1000).toFixed(1)} s + load ${(seconds - (dumped - started) / 1000).toFixed(1)} s, ${(bytes / 1024 / 1024).toFixed(0)} MB file`}
}

export async function runPipe({sandbox, work, optionsFile}: ToolContext): Promise<Measured> {
  const started = performance.now()
  // A shell pipe, as a person types it: the bytes never pass through Node.
  const command = `${shellLine('mariadb-dump', [...sourceArgs(sandbox, optionsFile), ...DUMP, '--databases', DATABASE])} | ${shellLine('mariadb', [...replicaArgs(sandbox, optionsFile), ...LOAD])}`
  await execa('bash', ['-o', 'pipefail', '-c', command], {env: childEnv(work)})
  return {seconds: (performance.now() - started) / 1000}
}

export async function runMydumper({sandbox, work, optionsFile, threads}: ToolContext): Promise<Measured> {
  const missing = ['mydumper', 'myloader'].filter((tool) => !onPath(tool))
  if (missing.length > 0) {
    return {note: `skipped: ${missing.join(' and ')} not installed (Debian/Ubuntu: apt-get install -y mydumper; then run the bench again)`}
  }
  const dir = path.join(work, 'mydumper')
  // The password in the defaults file, TLS verified against the sandbox's CA, both ways.
  const login = (endpoint: Sandbox['source'], defaults: string) => [
    `--defaults-file=${defaults}`,
    `--host=${endpoint.host}`,
    `--port=${endpoint.port}`,
    `--user=${endpoint.user}`,
    '--ssl',
    `--ca=${endpoint.sslCa}`,
  ]
  const started = performance.now()
  await execa('mydumper', [
    ...login(sandbox.source, optionsFile.source),
    `--threads=${threads}`,
    `--database=${DATABASE}`,
    `--outputdir=${dir}`,
    '--triggers',
    '--events',
    '--routines',
  ], {env: childEnv(work)})
  const dumped = performance.now()
  // --enable-binlog: myloader's default SET SQL_LOG_BIN=0 needs a privilege Azure's admin lacks (and datain's load is logged too).
  await execa('myloader', [
    ...login(sandbox.replica, optionsFile.replica),
    `--threads=${threads}`,
    `--directory=${dir}`,
    '--enable-binlog',
  ], {env: childEnv(work)})
  const seconds = (performance.now() - started) / 1000
  await rm(dir, {recursive: true, force: true})
  return {seconds, note: `dump ${((dumped - started) / 1000).toFixed(1)} s + load ${(seconds - (dumped - started) / 1000).toFixed(1)} s, through the gateway with TLS`}
}

const sourceArgs = (sandbox: Sandbox, optionsFile: ToolContext['optionsFile']) => ['--defaults-extra-file=' + optionsFile.source, ...connection(sandbox.source)]
const replicaArgs = (sandbox: Sandbox, optionsFile: ToolContext['optionsFile']) => ['--defaults-extra-file=' + optionsFile.replica, ...connection(sandbox.replica)]

/** Host, port, user and TLS on the command line; the password only in the options file. */
function connection(endpoint: Sandbox['source']): string[] {
  return [`--host=${endpoint.host}`, `--port=${endpoint.port}`, `--user=${endpoint.user}`, '--protocol=TCP', '--ssl', `--ssl-ca=${endpoint.sslCa}`, '--ssl-verify-server-cert']
}

/** Private options files with the passwords (mode 0600): [client] for MariaDB's tools, [mydumper]/[myloader] for those. */
export async function writeOptionsFiles(work: string, sandbox: Sandbox): Promise<{source: string; replica: string}> {
  const quote = (value: string) => `"${value.replace(/[\\"']/g, (c) => `\\${c}`)}"`
  const write = async (name: string, endpoint: Sandbox['source']) => {
    const file = path.join(work, `${name}.cnf`)
    const lines = ['client', 'mydumper', 'myloader'].flatMap((group) => [`[${group}]`, `user=${endpoint.user}`, `password=${quote(endpoint.password)}`])
    await writeFile(file, `${lines.join('\n')}\n`, {mode: 0o600})
    return file
  }
  return {source: await write('source', sandbox.source), replica: await write('replica', sandbox.replica)}
}

/** The children's environment: no ~/.my.cnf of the person running the bench. */
function childEnv(work: string): Record<string, string | undefined> {
  return {...process.env, HOME: work, MYSQL_PWD: undefined}
}

function shellLine(tool: string, args: string[]): string {
  return [tool, ...args].map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(' ')
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, tool), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}
