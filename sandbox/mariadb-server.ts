import {type ChildProcess, spawn} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import {mkdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import mariadb, {type Connection} from 'mariadb'
import {freePort} from './ports.js'

export interface ServerTls {
  ca: string
  cert: string
  key: string
}

export interface MariaDbServerOptions {
  /** Folder of this server: data/, the socket, the pid and the error log go in it. */
  dir: string
  serverId: number
  port?: number
  /** Binary log on (default true). */
  binlog?: boolean
  binlogFormat?: 'ROW' | 'STATEMENT' | 'MIXED'
  lowerCaseTableNames?: 0 | 1 | 2
  tls?: ServerTls
  /** Any other mariadbd option, e.g. `--require-secure-transport=ON`. */
  extraArgs?: string[]
}

/** The full path of a MariaDB binary: PATH first, then the sbin folders a non-root PATH may lack. */
export function mariadbBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin']
  for (const dir of dirs) {
    const candidate = path.join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not in this folder
    }
  }
  return undefined
}

/** The binaries the sandbox runs, checked once so a missing package gives one clear message. */
export function assertMariaDbInstalled(): void {
  const missing = ['mariadbd', 'mariadb-install-db', 'mariadb', 'mariadb-dump', 'openssl'].filter((b) => !mariadbBinary(b))
  if (missing.length > 0) {
    throw new Error(
      `The sandbox needs MariaDB's server and client binaries and openssl (missing: ${missing.join(', ')}). ` +
        'On Debian or Ubuntu: apt-get update && apt-get install -y mariadb-server mariadb-client openssl',
    )
  }
}

const bin = (name: string) => mariadbBinary(name) ?? name

/**
 * One real MariaDB server started from the system binaries with `--no-defaults`, on loopback, with
 * its own data dir. `stop()` ends exactly the process `start()` (or the last `restart()`) spawned.
 */
export class MariaDbServer {
  private child!: ChildProcess
  private exited!: Promise<number | null>

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly socket: string,
    readonly serverId: number,
    /** mariadbd's command line: a restart runs the very same (data dir, port, options, TLS). */
    private readonly args: readonly string[],
  ) {}

  /** The pid of the mariadbd running now: a restart changes it. */
  get pid(): number {
    return this.child.pid!
  }

  get errorLog(): string {
    return path.join(this.dir, 'error.log')
  }

  static async start(options: MariaDbServerOptions): Promise<MariaDbServer> {
    const dir = path.resolve(options.dir)
    const dataDir = path.join(dir, 'data')
    const filesDir = path.join(dir, 'files')
    // Its own tmpdir: servers starting side by side in a shared /tmp trip over each other's temp tables.
    const tmpDir = path.join(dir, 'tmp')
    for (const d of [dataDir, filesDir, tmpDir]) await mkdir(d, {recursive: true, mode: 0o700})
    const asRoot = process.getuid?.() === 0 ? ['--user=root'] : []
    await execa(bin('mariadb-install-db'), [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--tmpdir=${tmpDir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...asRoot,
    ])
    const port = options.port ?? (await freePort())
    const socket = path.join(dir, 'mariadb.sock')
    const args = [
      '--no-defaults',
      ...asRoot,
      `--datadir=${dataDir}`,
      `--socket=${socket}`,
      `--tmpdir=${tmpDir}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${path.join(dir, 'mariadb.pid')}`,
      `--log-error=${path.join(dir, 'error.log')}`,
      `--server-id=${options.serverId}`,
      `--secure-file-priv=${filesDir}/`,
      '--skip-name-resolve',
      '--performance-schema=OFF',
      '--innodb-buffer-pool-size=128M',
      // Durability is not what a sandbox tests; without it a test's writes are not fsync-bound.
      '--innodb-flush-log-at-trx-commit=2',
      '--sync-binlog=0',
      ...(options.binlog === false ? [] : [`--log-bin=${path.join(dataDir, 'binlog')}`]),
      `--binlog-format=${options.binlogFormat ?? 'ROW'}`,
      `--lower-case-table-names=${options.lowerCaseTableNames ?? 0}`,
      ...(options.tls ? [`--ssl-ca=${options.tls.ca}`, `--ssl-cert=${options.tls.cert}`, `--ssl-key=${options.tls.key}`] : []),
      ...(options.extraArgs ?? []),
    ]
    const server = new MariaDbServer(dir, port, socket, options.serverId, args)
    await server.launch()
    return server
  }

  /**
   * Restarts the server as a DBA would: a clean shutdown of exactly the mariadbd this object
   * started (SIGTERM, then waiting until it has exited), then the same command line again on the
   * same data dir, port, options and TLS, and back when it accepts connections. Clients connected
   * before lose their connection, as on a real restart. The object goes on working, and `stop()`
   * ends the new process. Throws when the server does not shut down within `graceMs` (it is then
   * killed: that would be a crash, not a restart) or does not come back.
   */
  async restart(graceMs = 60_000): Promise<void> {
    if (this.running() && !(await this.shutdown(graceMs))) {
      this.child.kill('SIGKILL')
      await this.exited
      throw new Error(`mariadbd in ${this.dir} (pid ${this.pid}) did not shut down within ${graceMs} ms: killed, not restarted`)
    }
    await this.launch()
  }

  /** A connection as root over the unix socket: the sandbox's own back door, never datain's. */
  async connectAsRoot(options: {database?: string; multipleStatements?: boolean} = {}): Promise<Connection> {
    return mariadb.createConnection({socketPath: this.socket, user: 'root', ...options})
  }

  /** Runs statements as root, in order, on one connection. */
  async execute(statements: string[]): Promise<void> {
    const conn = await this.connectAsRoot()
    try {
      for (const sql of statements) await conn.query(sql)
    } finally {
      await conn.end()
    }
  }

  async query<T = unknown>(sql: string, values?: unknown[]): Promise<T> {
    const conn = await this.connectAsRoot()
    try {
      return (await conn.query(sql, values)) as T
    } finally {
      await conn.end()
    }
  }

  /** SIGTERM, then SIGKILL if the server has not shut down after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    if (!this.running()) return
    if (!(await this.shutdown(graceMs))) {
      this.child.kill('SIGKILL')
      await this.exited
    }
  }

  private running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** SIGTERM (mariadbd's clean shutdown) to this object's process; whether it exited within `graceMs`. */
  private async shutdown(graceMs: number): Promise<boolean> {
    this.child.kill('SIGTERM')
    // The timer is cancelled once the server is gone: it must not keep a script alive for graceMs.
    const timer = new AbortController()
    const timedOut = sleep(graceMs, false, {signal: timer.signal}).catch(() => false)
    const exited = await Promise.race([this.exited.then(() => true), timedOut])
    timer.abort()
    return exited
  }

  /** Spawns mariadbd with this server's command line and waits until it accepts connections. */
  private async launch(): Promise<void> {
    const child = spawn(bin('mariadbd'), this.args, {stdio: 'ignore'})
    this.child = child
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    await this.waitUntilReady()
  }

  private async waitUntilReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let exitCode: number | null | undefined
    void this.exited.then((code) => (exitCode = code))
    while (Date.now() < deadline) {
      if (exitCode !== undefined) break
      try {
        const conn = await mariadb.createConnection({socketPath: this.socket, user: 'root', connectTimeout: 1000})
        await conn.end()
        return
      } catch {
        await sleep(100)
      }
    }
    await this.stop()
    const log = await readFile(this.errorLog, 'utf8').catch(() => '')
    throw new Error(`mariadbd in ${this.dir} did not start:\n${log.split('\n').slice(-15).join('\n')}`)
  }
}
