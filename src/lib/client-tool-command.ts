import {accessSync, constants} from 'node:fs'
import {chmod, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {DatainError, ExitCode} from './errors.js'
import type {ServerAddress} from './mariadb.js'

/** MariaDB's client tools datain runs; older installs name them after MySQL's. */
export type ClientToolName = 'mariadb' | 'mariadb-dump'

const BINARIES: Record<ClientToolName, string[]> = {
  mariadb: ['mariadb', 'mysql'],
  'mariadb-dump': ['mariadb-dump', 'mysqldump'],
}

/**
 * A value for a MariaDB options file: in double quotes, with the escapes the server's option-file
 * reader undoes (`\\`, `\"`, `\'`, `\n`, `\r`, `\t`, `\b`), so that `#`, quotes, `$`, spaces at
 * either end and any UTF-8 survive as they are.
 */
export function optionFileValue(value: string): string {
  if (value.includes('\0')) throw new DatainError('A password cannot contain a NUL character.', {code: 'E_BAD_INPUT', exit: ExitCode.usage})
  const escapes: Record<string, string> = {'\\': '\\\\', '"': '\\"', "'": "\\'", '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b'}
  return `"${value.replace(/[\\"'\n\r\t\b]/g, (c) => escapes[c]!)}"`
}

/** The full path of a client tool, trying MariaDB's name first; E_CLIENT_TOOL_MISSING with the package to install. */
export function clientBinary(tool: ClientToolName): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin', '/usr/local/mysql/bin']
  for (const name of BINARIES[tool]) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name)
      try {
        accessSync(candidate, constants.X_OK)
        return candidate
      } catch {
        // not here
      }
    }
  }
  throw new DatainError(
    `datain needs MariaDB's '${tool}' client program, which is not installed on this machine (nor '${BINARIES[tool].slice(1).join("', '")}'). ` +
      `Install MariaDB's client tools, of the source's version or later: on Debian or Ubuntu 'apt-get install mariadb-client', ` +
      `on RHEL-like systems 'dnf install mariadb', on macOS 'brew install mariadb'.`,
    {code: 'E_CLIENT_TOOL_MISSING', exit: ExitCode.failed},
  )
}

export function connectionArgs(tool: ClientToolName, address: ServerAddress, caFile: string | undefined): string[] {
  const args = [
    `--host=${address.host}`,
    `--port=${address.port}`,
    `--user=${address.user}`,
    // `localhost` would otherwise mean the unix socket, another server than the one datain checked.
    '--protocol=TCP',
  ]
  const tls = address.tls
  if (!tls) {
    args.push('--skip-ssl')
  } else {
    args.push('--ssl')
    if (tls.ca) args.push(`--ssl-ca=${caFile}`)
    // 11.4+ clients verify by default; older ones only when asked.
    args.push(tls.verify ? '--ssl-verify-server-cert' : '--skip-ssl-verify-server-cert')
  }
  // A server may answer any statement with a request for a local file, which a client with
  // local-infile on sends (Debian builds it on): datain's loads never use it.
  if (tool === 'mariadb') args.push('--local-infile=0')
  return args
}

/** Writes the options file (and the CA, if any) into `dir`; returns the connection arguments, the options file first. */
export async function writeConnectionFiles(dir: string, tool: ClientToolName, address: ServerAddress): Promise<string[]> {
  const optionsFile = path.join(dir, 'client.cnf')
  await writeFile(optionsFile, `[client]\npassword=${optionFileValue(address.password)}\n`, {mode: 0o600, flag: 'wx'})
  await chmod(optionsFile, 0o600)
  let caFile: string | undefined
  if (address.tls?.ca) {
    caFile = path.join(dir, 'ca.pem')
    await writeFile(caFile, address.tls.ca, {mode: 0o600, flag: 'wx'})
  }
  // The client reads --defaults-extra-file only as its very first argument.
  return [`--defaults-extra-file=${optionsFile}`, ...connectionArgs(tool, address, caFile)]
}

/**
 * What a child may see of datain's environment: an allow-list, since datain's own holds both
 * passwords and the ARM token, and a tool on one server has no business with the other's. The
 * client tools read nothing else that datain means to pass (MYSQL_* would even override it).
 */
export function childEnvironment(home: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && /^(PATH|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR)$/.test(key)) env[key] = value
  }
  env.HOME = home
  return env
}

export function shellWord(word: string): string {
  return /^[\w@%+=:,./<>*-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`
}
