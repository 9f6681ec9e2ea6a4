import {Flags} from '@oclif/core'
import {BaseCommand} from '../ui/base-command.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {COMMON_EXITS, exitCodesHelp} from '../ui/exit-codes-help.js'
import type {SkipResult} from '../skip/run-skip.js'

export default class Skip extends BaseCommand<typeof Skip> {
  static override summary = "Skip the one transaction the replica's SQL thread stopped on, after showing it."
  static override description =
    "Shows the replica's SQL error and the transaction it failed on (its GTID and events, from the source's binary log), asks for " +
    "confirmation (or --yes), calls az_replication_skip_counter and records the skip in the profile's journal. The skipped transaction's " +
    'changes are missing on the replica for good: skip only when you know the row it failed on is the only difference.\n\n' +
    exitCodesHelp({
      ok: 'the transaction was skipped (or you answered no) and replication runs',
      failed: 'the skip failed',
      usage: `${COMMON_EXITS.usage}; or no terminal to confirm on and no --yes`,
      broken: 'replication is still broken after the skip',
      unreachable: COMMON_EXITS.unreachable,
    })

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --yes --json']

  static override flags = {
    yes: Flags.boolean({char: 'y', summary: 'Skip without asking (needed without a terminal).', default: false}),
  }

  async run(): Promise<SkipResult> {
    const {flags} = await this.parse(Skip)
    // Loaded here, not at the top: skipping needs the MariaDB connector and the prompt library, which --help does not.
    const [{runSkip}, {askYesNo, canPrompt}, {renderSkip}] = await Promise.all([
      import('../skip/run-skip.js'),
      import('../ui/prompt.js'),
      import('../ui/stop.js'),
    ])
    const result = await runSkip({
      home: this.home,
      profile: flags.profile,
      ui: this.stepUi(),
      async confirm(transaction) {
        if (flags.yes) return true
        const what = transaction.gtid ? `transaction ${transaction.gtid}` : `the transaction at ${transaction.sourceFile}:${transaction.sourcePosition}`
        if (!canPrompt()) {
          throw new DatainError(
            `Replication stopped on error ${transaction.errno} in ${what}. datain asks before it skips a transaction, and there is no terminal to ask on: ` +
              'run the command again with --yes to skip it.',
            {code: 'E_CONFIRMATION_NEEDED', exit: ExitCode.usage, suggestions: [`datain skip${flags.profile === 'default' ? '' : ` --profile ${flags.profile}`} --yes`]},
          )
        }
        return askYesNo(`Skip ${what} (error ${transaction.errno}) on the replica?`)
      },
    })
    if (!this.jsonEnabled()) this.log(renderSkip(result))
    return result
  }
}
