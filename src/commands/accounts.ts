import {Flags} from '@oclif/core'
import type {AccountsResult} from '../accounts/run-accounts.js'
import {BaseCommand} from '../ui/base-command.js'
import {COMMON_EXITS, exitCodesHelp} from '../ui/exit-codes-help.js'
import {redact} from '../lib/redact.js'

export default class Accounts extends BaseCommand<typeof Accounts> {
  static override summary = "Copy the source's accounts, roles and grants to the replica (hashes, never passwords)."
  static override description =
    'Accounts and grants live in the mysql schema, which replication does not copy. This copies each selected account with its ' +
    'password hash and authentication plugin, its global, database, table, column and routine grants, its roles and default role. ' +
    "What the replica's admin cannot grant (SUPER and the other admin privileges on Azure) is left out and listed. The replication user, " +
    "system accounts and the replica's admin are never copied. An account that exists on the replica with other grants is left alone unless --replace. " +
    'Running it again changes nothing.\n\n' +
    exitCodesHelp({
      ok: 'every selected account copied, or already the same on the replica',
      failed: 'something left out, left alone or failed (each listed)',
      ...COMMON_EXITS,
    })

  static override examples = [
    '<%= config.bin %> <%= command.id %> --dry-run',
    `<%= config.bin %> <%= command.id %> --users "'app'@'%','report'@'10.0.0.%',analyst"`,
    '<%= config.bin %> <%= command.id %> --replace --json',
  ]

  static override flags = {
    users: Flags.string({summary: "Accounts and roles to copy, as 'user'@'host' or role, comma-separated (default: all but system accounts).", env: 'DATAIN_USERS'}),
    'dry-run': Flags.boolean({summary: 'Print the statements (hashes as ***); change nothing.', default: false}),
    replace: Flags.boolean({summary: 'Make accounts that exist on the replica with other grants as on the source.', default: false}),
  }

  async run(): Promise<AccountsResult> {
    const {flags} = await this.parse(Accounts)
    // Loaded here, not at the top: the copy pulls in the MariaDB connector, which --help does not need.
    const [{runAccounts}, {renderAccounts}] = await Promise.all([import('../accounts/run-accounts.js'), import('../ui/accounts.js')])
    const result = await runAccounts({
      home: this.home,
      profile: flags.profile,
      users: flags.users,
      dryRun: flags['dry-run'],
      replace: flags.replace,
      note: (m) => this.note(m),
    })
    if (!this.jsonEnabled()) this.log(redact(renderAccounts(result)))
    process.exitCode = result.exitCode
    return result
  }
}
