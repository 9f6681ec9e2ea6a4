import {Flags} from '@oclif/core'
import type {InitResult} from '../setup/run-init.js'
import {renderInit} from '../ui/init.js'
import {verboseFlag} from '../ui/preflight-report.js'
import {terminalPaint} from '../ui/paint.js'
import {BaseCommand} from '../ui/base-command.js'
import {terminalSafe} from '../ui/terminal-text.js'
import {COMMON_EXITS, exitCodesHelp} from '../ui/exit-codes-help.js'

export default class Init extends BaseCommand<typeof Init> {
  static override summary = 'Record a replication profile and run every preflight check. Changes nothing on any server.'
  static override description =
    'Connects to the source, to the replica (through Azure\'s gateway) and to Azure Resource Manager, and reports each check as pass, warn, fail or not run, with the reason and the fix. ' +
    'Passwords come from DATAIN_SOURCE_PASSWORD and DATAIN_REPLICA_PASSWORD or a hidden prompt, never from a flag. ' +
    "The source is reached over TLS verified against --source-ssl-ca or the system's CAs; --source-ssl off (warned about) for plain text. " +
    'Dangerous choices are not recorded here: datain start --replace-databases or --take-over-replica makes them for one run.\n\n' +
    exitCodesHelp({ok: 'the profile is recorded and no check failed (read the warnings and the checks not run)', failed: 'a check failed', ...COMMON_EXITS})

  static override examples = [
    '<%= config.bin %> <%= command.id %> --source-host db1.example.com --source-user admin --source-ssl-ca ca.pem --subscription SUB --resource-group rg --server myreplica --replica-user admin@myreplica',
    '<%= config.bin %> <%= command.id %> --databases shop,crm --no-gtid --json',
    '<%= config.bin %> <%= command.id %> --force --client-ip 20.50.1.10',
  ]

  static override flags = {
    'source-host': Flags.string({summary: 'Source MariaDB host, as datain reaches it.', env: 'DATAIN_SOURCE_HOST', helpGroup: 'SOURCE'}),
    'source-port': Flags.string({summary: 'Source port.', env: 'DATAIN_SOURCE_PORT', default: '3306', helpGroup: 'SOURCE'}),
    'source-user': Flags.string({summary: 'Source administrator account datain uses.', env: 'DATAIN_SOURCE_USER', helpGroup: 'SOURCE'}),
    'source-public-host': Flags.string({summary: 'Address the replica uses to reach the source (default: --source-host).', env: 'DATAIN_SOURCE_PUBLIC_HOST', helpGroup: 'SOURCE'}),
    'source-ip': Flags.string({summary: "Source IP for the replica's firewall rule (default: resolved from the public host).", env: 'DATAIN_SOURCE_IP', helpGroup: 'SOURCE'}),
    'source-ssl-ca': Flags.string({summary: "CA file (PEM) of the source's TLS certificate; the replica is given its content.", env: 'DATAIN_SOURCE_SSL_CA', helpGroup: 'SOURCE'}),
    target: Flags.string({
      summary: 'The replica: azure-mariadb (Azure Database for MariaDB, the default) or mariadb (a MariaDB server you administer).',
      env: 'DATAIN_TARGET',
      options: ['azure-mariadb', 'mariadb'],
      default: 'azure-mariadb',
      helpGroup: 'REPLICA',
    }),
    'link-ssl-ca': Flags.string({
      summary: "--target mariadb: the source's CA as a file ON THE REPLICA'S HOST (MASTER_SSL_CA); with it the replica verifies the source's certificate.",
      env: 'DATAIN_LINK_SSL_CA',
      helpGroup: 'REPLICA',
    }),
    'replica-host': Flags.string({summary: "Replica host (default on Azure: the server's host name from ARM, else <server>.mariadb.database.azure.com).", env: 'DATAIN_REPLICA_HOST', helpGroup: 'REPLICA'}),
    'replica-port': Flags.string({summary: 'Replica port.', env: 'DATAIN_REPLICA_PORT', default: '3306', helpGroup: 'REPLICA'}),
    'replica-user': Flags.string({summary: "Replica admin account; on Azure the login user@server that its gateway requires.", env: 'DATAIN_REPLICA_USER', helpGroup: 'REPLICA'}),
    'replica-ssl-ca': Flags.string({summary: "CA file (PEM) for the replica's certificate (default: the system's CAs).", env: 'DATAIN_REPLICA_SSL_CA', helpGroup: 'REPLICA'}),
    'replica-ssl-verify': Flags.boolean({summary: "Verify the replica's TLS certificate.", default: true, allowNo: true, helpGroup: 'REPLICA'}),
    'client-ip': Flags.string({summary: "This machine's address as Azure sees it, for the replica's firewall (default: learnt from Azure's gateway).", env: 'DATAIN_CLIENT_IP', helpGroup: 'AZURE'}),
    subscription: Flags.string({summary: "Azure subscription id of the replica.", env: 'DATAIN_SUBSCRIPTION', helpGroup: 'AZURE'}),
    'resource-group': Flags.string({summary: "Resource group of the replica's server.", env: 'DATAIN_RESOURCE_GROUP', helpGroup: 'AZURE'}),
    server: Flags.string({summary: "The replica's server name in Azure.", env: 'DATAIN_SERVER', helpGroup: 'AZURE'}),
    'arm-endpoint': Flags.string({summary: 'Azure Resource Manager endpoint (sovereign clouds, emulators).', env: 'DATAIN_ARM_ENDPOINT', helpGroup: 'AZURE'}),
    arm: Flags.boolean({summary: 'Use Azure Resource Manager; --no-arm makes no ARM call (parameters become checks to do by hand).', default: true, allowNo: true, helpGroup: 'AZURE'}),
    firewall: Flags.boolean({summary: "Manage the replica's firewall rules; --no-firewall leaves them alone.", default: true, allowNo: true, helpGroup: 'AZURE'}),
    databases: Flags.string({summary: 'Databases to copy, comma-separated (default: every database but the system ones).', env: 'DATAIN_DATABASES'}),
    gtid: Flags.boolean({summary: 'Replicate by GTID; --no-gtid for binlog file and position.', default: true, allowNo: true}),
    'replication-user': Flags.string({summary: 'Name of the replication user datain creates on the source.', env: 'DATAIN_REPLICATION_USER', default: 'datain_repl'}),
    'source-ssl': Flags.string({
      summary: "TLS for datain's connection to the source: on (default, verified against --source-ssl-ca or the system's CAs) or off (plain text; warned about).",
      env: 'DATAIN_SOURCE_SSL',
      options: ['on', 'off'],
      helpGroup: 'SOURCE',
    }),
    'replica-ssl': Flags.string({
      summary: "--target mariadb: TLS for datain's connection to the replica: on (default, verified) or off (plain text; warned about: the link's password then crosses the network in clear).",
      env: 'DATAIN_REPLICA_SSL',
      options: ['on', 'off'],
      helpGroup: 'REPLICA',
    }),
    'unfiltered-subset': Flags.boolean({
      summary: 'Copy a subset of databases even where no replica filter can skip the others: a write to them on the source then stops replication (error 1146).',
      default: false,
    }),
    verbose: verboseFlag,
    force: Flags.boolean({summary: "Record over an existing profile's settings; sets damaged settings or checkpoint files aside. Nothing else.", default: false}),
  }

  async run(): Promise<InitResult> {
    const {flags} = await this.parse(Init)
    // Loaded here, not at the top: the module graph holds the Azure SDK and the MariaDB connector, which --help does not need.
    const {runInit} = await import('../setup/run-init.js')
    const result = await runInit({home: this.home, profile: flags.profile, flags, force: flags.force, note: (m) => this.note(m)})
    // The checks quote the servers' names and errors; --json keeps them exact.
    if (!this.jsonEnabled()) this.log(renderInit(terminalSafe(result), {verbose: flags.verbose, paint: terminalPaint()}))
    if (!result.passed) process.exitCode = 1
    return result
  }
}
