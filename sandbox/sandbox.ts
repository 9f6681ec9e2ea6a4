import {randomBytes} from 'node:crypto'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {type ArmEmulator, type ReplicaControl, startArmEmulator} from './arm-emulator.js'
import {AzureServerState, type SkuTier} from './azure-state.js'
import {type Gateway, startGateway} from './gateway.js'
import {assertMariaDbInstalled, MariaDbServer} from './mariadb-server.js'
import {PLAIN_REPLICA_ADMIN, plainReplicaAdminGrants, startPlainReplica} from './plain-replica.js'
import {type ProcedureSchema, PROCEDURE_DEFINER, type RemoveMaster, replicaProcedureStatements} from './replica-procedures.js'
import {sampleDataStatements} from './sample-data.js'
import {type Certificate, type CertificateAuthority, ensureCa, issueCertificate} from './tls.js'

/** The replica a sandbox runs, named as datain's `--target` names it. */
export type SandboxTarget = 'azure-mariadb' | 'mariadb'

export interface SandboxOptions {
  /** Folder for everything the sandbox writes; default a new temp dir, removed by stop(). */
  dir?: string
  /** Where the CAs live; reused when they exist (tests share one so Node can trust it). */
  caDir?: string
  /** Rows of sample data on the source (0: none). Default 1000. */
  sampleRows?: number
  /** Schema that holds the az_replication_* procedures: Azure's `mysql`, or `mariadb` as one document says. */
  procedureSchema?: ProcedureSchema
  /** Leave the procedures out, to test what datain says when a replica lacks them. */
  withoutProcedures?: boolean
  tier?: SkuTier
  /**
   * What az_replication_remove_master runs (Azure documents only "removes the relationship"):
   * 'reset-slave-all' (default) leaves no SHOW SLAVE STATUS row; 'reset-slave' leaves MariaDB's
   * row after RESET SLAVE: source host, user and port kept, positions reset, both threads stopped
   * (a row with an empty host does not exist on 10.11), gone after a restart.
   */
  removeMaster?: RemoveMaster
  /**
   * Server parameters the emulated ARM answers 404 for (absent from the list too), as real Azure
   * MariaDB may lack those documented only for Azure MySQL: replicate_wild_ignore_table,
   * sync_master_info, sync_relay_log_info.
   */
  withoutParameters?: string[]
  source?: {
    serverId?: number
    binlog?: boolean
    binlogFormat?: 'ROW' | 'STATEMENT' | 'MIXED'
    lowerCaseTableNames?: 0 | 1 | 2
    tls?: boolean
  }
  replica?: {
    serverId?: number
    lowerCaseTableNames?: 0 | 1 | 2
    /** Plain replica only: SUPER for its admin too (MariaDB 10.11 asks it for sql_slave_skip_counter). */
    superAdmin?: boolean
  }
}

export interface Endpoint {
  host: string
  port: number
  user: string
  password: string
  /** PEM file of the CA that signed this server's certificate. */
  sslCa: string
}

/**
 * The options with the replica chosen: `target` 'azure-mariadb' (default) is an emulated Azure
 * replica behind a gateway with an emulated ARM; 'mariadb' a plain MariaDB replica reached directly,
 * with an admin that has the replication privileges (the Azure-only options are then ignored).
 */
export type AnySandboxOptions = SandboxOptions & {target?: SandboxTarget}

interface SandboxBase {
  dir: string
  target: SandboxTarget
  source: Endpoint & {server: MariaDbServer}
  /** `account`: the admin's user name on the replica server itself, as CURRENT_USER() and definers name it (the login `user` may differ). */
  replica: Endpoint & {server: MariaDbServer; account: string}
  /** The settings datain and a person need, as environment variables. */
  env(): Record<string, string>
  stop(): Promise<void>
}

/** The default sandbox: the source, and an emulated Azure Database for MariaDB. */
export interface AzureSandbox extends SandboxBase {
  target: 'azure-mariadb'
  /**
   * `host`/`port` are the gateway's: as on Azure, clients reach the replica only through it, and
   * `user` is the login `azureadmin@<serverName>`; `account` is what the server knows (`azureadmin`).
   */
  replica: Endpoint & {server: MariaDbServer; serverName: string; account: string}
  gateway: Gateway
  azure: {state: AzureServerState; arm: ArmEmulator; subscriptionId: string; resourceGroup: string; token: string}
  procedureSchema: ProcedureSchema
}

/** The source, and a plain MariaDB replica reached directly (`host`/`port` are the server's own). */
export interface MariaDbSandbox extends SandboxBase {
  target: 'mariadb'
  gateway?: undefined
  azure?: undefined
  procedureSchema?: undefined
}

/**
 * A running sandbox. Without a type argument the Azure one, as every sandbox was before the plain
 * replica existed; `Sandbox<SandboxTarget>` (AnySandbox) is either, told apart by `target`.
 */
export type Sandbox<T extends SandboxTarget = 'azure-mariadb'> = T extends 'mariadb' ? MariaDbSandbox : AzureSandbox
export type AnySandbox = Sandbox<SandboxTarget>

export const SOURCE_ADMIN = 'datain_admin'
export const SUBSCRIPTION_ID = '00000000-0000-4000-8000-00000000da7a'
export const RESOURCE_GROUP = 'datain-sandbox'
export const REPLICA_SERVER_NAME = 'datain-replica'
/** The Azure replica's admin account on the server; clients log in as `azureadmin@datain-replica`. */
export const REPLICA_ADMIN = 'azureadmin'

// Passwords with quotes, `$` and a backslash: whatever handles them wrong breaks in the sandbox first.
const password = (prefix: string) => `${prefix}'"$\\${randomBytes(6).toString('hex')}`

/** The privileges a DBA hands datain on the source: enough for every step, not SUPER, not root. */
const sourceAdminGrants = (user: string) => [
  `GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, PROCESS, BINLOG MONITOR, REPLICATION SLAVE,
     CREATE USER, READ_ONLY ADMIN ON *.* TO ${user} WITH GRANT OPTION`,
]

/**
 * What Azure gives the server admin: most DDL and DML, no SUPER, REPLICATION SLAVE ADMIN,
 * BINLOG ADMIN, READ_ONLY ADMIN or SET USER. SLAVE MONITOR stands in for what 10.2/10.3's
 * REPLICATION CLIENT allowed (SHOW SLAVE STATUS), split off in 10.5.
 */
const replicaAdminGrants = (user: string) => [
  `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, SHOW DATABASES,
     CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR, CREATE VIEW,
     SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER ON *.* TO ${user} WITH GRANT OPTION`,
]

const account = (user: string, host = '%') => `'${user.replaceAll("'", "''")}'@'${host}'`
const sqlString = (value: string) => `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`

/** Starts a source and a replica: an emulated Azure one behind a gateway with an emulated ARM (default), or a plain one. */
// The Azure signature comes last: `Parameters<typeof startSandbox>` (which tests use) reads the last one.
export async function startSandbox(options: SandboxOptions & {target: 'mariadb'}): Promise<MariaDbSandbox>
export async function startSandbox(options: SandboxOptions & {target: SandboxTarget}): Promise<AnySandbox>
export async function startSandbox(options?: SandboxOptions & {target?: 'azure-mariadb'}): Promise<AzureSandbox>
export async function startSandbox(options: AnySandboxOptions = {}): Promise<AnySandbox> {
  assertMariaDbInstalled()
  const ownsDir = !options.dir
  const dir = options.dir ?? (await mkdtemp(path.join(tmpdir(), 'datain-sandbox-')))
  const stack: Array<() => Promise<void>> = []
  const stopAll = async () => {
    for (const stop of stack.reverse()) await stop().catch(() => {})
    stack.length = 0
    if (ownsDir) await rm(dir, {recursive: true, force: true})
  }

  try {
    const caDir = options.caDir ?? process.env.DATAIN_SANDBOX_CA_DIR ?? path.join(dir, 'ca')
    const sourceCa = await ensureCa(caDir, 'source')
    const certDir = path.join(dir, 'certs')
    const sourceCert = await issueCertificate(certDir, sourceCa, 'source', HOSTS)
    const source = await startSource(dir, options, sourceCa, sourceCert)
    stack.push(() => source.server.stop())
    const base = {dir, source, stop: stopAll}
    if (options.target === 'mariadb') {
      // Its own CA, as a DBA's server has one that is not the source's.
      const replicaCa = await ensureCa(caDir, 'replica')
      const replicaCert = await issueCertificate(certDir, replicaCa, 'replica', HOSTS)
      const replica = await startPlainReplica({
        dir,
        ca: replicaCa,
        cert: replicaCert,
        serverId: options.replica?.serverId ?? 2,
        lowerCaseTableNames: options.replica?.lowerCaseTableNames,
      })
      stack.push(() => replica.stop())
      const replicaPassword = password('Rep')
      await replica.execute([
        `CREATE USER ${account(PLAIN_REPLICA_ADMIN)} IDENTIFIED BY ${sqlString(replicaPassword)}`,
        ...plainReplicaAdminGrants(account(PLAIN_REPLICA_ADMIN)),
        ...(options.replica?.superAdmin ? [`GRANT SUPER ON *.* TO ${account(PLAIN_REPLICA_ADMIN)}`] : []),
      ])
      const endpoint = {host: '127.0.0.1', port: replica.port, user: PLAIN_REPLICA_ADMIN, password: replicaPassword, sslCa: replicaCa.cert}
      const sandbox: MariaDbSandbox = {
        ...base,
        target: 'mariadb',
        replica: {...endpoint, server: replica, account: PLAIN_REPLICA_ADMIN},
        env: () => sandboxEnv(sandbox),
      }
      return sandbox
    }
    return await startAzureSide(base, options, caDir, certDir, stack)
  } catch (error) {
    await stopAll()
    throw error
  }
}

const HOSTS = ['localhost', '127.0.0.1']

async function startSource(
  dir: string,
  options: SandboxOptions,
  ca: CertificateAuthority,
  cert: Certificate,
): Promise<Endpoint & {server: MariaDbServer}> {
  const sourceOptions = options.source ?? {}
  const server = await MariaDbServer.start({
    dir: path.join(dir, 'source'),
    serverId: sourceOptions.serverId ?? 1,
    binlog: sourceOptions.binlog,
    binlogFormat: sourceOptions.binlogFormat,
    lowerCaseTableNames: sourceOptions.lowerCaseTableNames ?? 1,
    tls: sourceOptions.tls === false ? undefined : {ca: ca.cert, cert: cert.cert, key: cert.key},
  })
  const sourcePassword = password('Src')
  try {
    await server.execute([
      `CREATE USER ${account(SOURCE_ADMIN)} IDENTIFIED BY ${sqlString(sourcePassword)}`,
      ...sourceAdminGrants(account(SOURCE_ADMIN)),
      ...(options.sampleRows === 0 ? [] : sampleDataStatements({rows: options.sampleRows ?? 1000})),
    ])
  } catch (error) {
    await server.stop()
    throw error
  }
  return {host: '127.0.0.1', port: server.port, user: SOURCE_ADMIN, password: sourcePassword, sslCa: ca.cert, server}
}

/** The emulated Azure Database for MariaDB: the replica server, its gateway and the emulated ARM. */
async function startAzureSide(
  base: Pick<AzureSandbox, 'dir' | 'source' | 'stop'>,
  options: SandboxOptions,
  caDir: string,
  certDir: string,
  stack: Array<() => Promise<void>>,
): Promise<AzureSandbox> {
  const azureCa = await ensureCa(caDir, 'azure')
  const replicaCert = await issueCertificate(certDir, azureCa, 'replica', HOSTS)
  const armCert = await issueCertificate(certDir, azureCa, 'arm', HOSTS)
  const replica = await MariaDbServer.start({
    dir: path.join(base.dir, 'replica'),
    serverId: options.replica?.serverId ?? 2,
    lowerCaseTableNames: options.replica?.lowerCaseTableNames ?? 1,
    tls: {ca: azureCa.cert, cert: replicaCert.cert, key: replicaCert.key},
    // Azure's default: sslEnforcement Enabled.
    extraArgs: ['--require-secure-transport=ON', '--log-bin-trust-function-creators=OFF'],
  })
  stack.push(() => replica.stop())
  // As on Azure: the account on the server is plain, and a client logs in as `azureadmin@<server>`
  // through the gateway, which routes on the suffix and logs in upstream without it.
  const replicaLogin = `${REPLICA_ADMIN}@${REPLICA_SERVER_NAME}`
  const replicaPassword = password('Rep')
  const procedureSchema = options.procedureSchema ?? 'mysql'
  await replica.execute([
    `CREATE USER ${PROCEDURE_DEFINER} ACCOUNT LOCK`,
    `GRANT ALL PRIVILEGES ON *.* TO ${PROCEDURE_DEFINER} WITH GRANT OPTION`,
    ...(options.withoutProcedures ? [] : replicaProcedureStatements(procedureSchema, {removeMaster: options.removeMaster})),
    `CREATE USER ${account(REPLICA_ADMIN)} IDENTIFIED BY ${sqlString(replicaPassword)}`,
    ...replicaAdminGrants(account(REPLICA_ADMIN)),
  ])

  const state = new AzureServerState()
  if (options.tier) state.tier = options.tier
  const gateway = await startGateway({
    // The gateway checks the replica's certificate against the CA, and shows clients the replica's own.
    target: {host: '127.0.0.1', port: replica.port, ca: await readFile(azureCa.cert, 'utf8')},
    tls: {cert: await readFile(replicaCert.cert, 'utf8'), key: await readFile(replicaCert.key, 'utf8')},
    serverName: REPLICA_SERVER_NAME,
    isAllowed: (ip) => state.isAllowed(ip),
  })
  stack.push(() => gateway.close())

  const token = randomBytes(24).toString('base64url')
  const arm = await startArmEmulator({
    subscriptionId: SUBSCRIPTION_ID,
    resourceGroup: RESOURCE_GROUP,
    serverName: REPLICA_SERVER_NAME,
    token,
    tls: armCert,
    state,
    replica: replicaControl(replica, options.withoutParameters ?? []),
    fqdn: '127.0.0.1',
  })
  stack.push(() => arm.close())

  const sandbox: AzureSandbox = {
    ...base,
    target: 'azure-mariadb',
    replica: {
      host: gateway.host,
      port: gateway.port,
      user: replicaLogin,
      password: replicaPassword,
      sslCa: azureCa.cert,
      server: replica,
      serverName: REPLICA_SERVER_NAME,
      account: REPLICA_ADMIN,
    },
    gateway,
    azure: {state, arm, subscriptionId: SUBSCRIPTION_ID, resourceGroup: RESOURCE_GROUP, token},
    procedureSchema,
    env: () => sandboxEnv(sandbox),
  }
  return sandbox
}

/** The environment a person (or datain) needs to use this sandbox. */
export function sandboxEnv(sandbox: AnySandbox): Record<string, string> {
  const endpoints = {
    DATAIN_SOURCE_HOST: sandbox.source.host,
    DATAIN_SOURCE_PORT: String(sandbox.source.port),
    DATAIN_SOURCE_USER: sandbox.source.user,
    DATAIN_SOURCE_PASSWORD: sandbox.source.password,
    DATAIN_SOURCE_SSL_CA: sandbox.source.sslCa,
    DATAIN_REPLICA_HOST: sandbox.replica.host,
    DATAIN_REPLICA_PORT: String(sandbox.replica.port),
    DATAIN_REPLICA_USER: sandbox.replica.user,
    DATAIN_REPLICA_PASSWORD: sandbox.replica.password,
    DATAIN_REPLICA_SSL_CA: sandbox.replica.sslCa,
  }
  if (sandbox.target === 'mariadb') return {DATAIN_TARGET: 'mariadb', ...endpoints}
  return {
    ...endpoints,
    DATAIN_SUBSCRIPTION: sandbox.azure.subscriptionId,
    DATAIN_RESOURCE_GROUP: sandbox.azure.resourceGroup,
    DATAIN_SERVER: sandbox.replica.serverName,
    DATAIN_ARM_ENDPOINT: sandbox.azure.arm.url,
    DATAIN_ARM_TOKEN: sandbox.azure.token,
    // The emulated ARM's HTTPS certificate comes from the sandbox's "azure" CA.
    NODE_EXTRA_CA_CERTS: sandbox.replica.sslCa,
  }
}

/** The replica as the emulated ARM reads and sets it; `withoutParameters` are variables it does not have. */
function replicaControl(replica: MariaDbServer, withoutParameters: readonly string[]): ReplicaControl {
  const absent = new Set(withoutParameters.map((name) => name.toLowerCase()))
  const checkName = (name: string) => {
    if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new Error(`not a variable name: ${name}`)
  }
  return {
    async version() {
      const [row] = await replica.query<Array<{v: string}>>('SELECT VERSION() AS v')
      return row!.v
    },
    async getVariable(name) {
      checkName(name)
      if (absent.has(name.toLowerCase())) return null
      const rows = await replica.query<Array<{Value: string}>>('SHOW GLOBAL VARIABLES WHERE Variable_name = ?', [name])
      return rows[0]?.Value ?? null
    },
    async setVariable(name, value) {
      checkName(name)
      if (absent.has(name.toLowerCase())) throw new Error(`Unknown system variable '${name}'`)
      // Numeric variables refuse a quoted number (error 1232), so pass digits as a number.
      await replica.query(`SET GLOBAL ${name} = ?`, [/^\d+$/.test(value) ? Number(value) : value])
    },
  }
}
