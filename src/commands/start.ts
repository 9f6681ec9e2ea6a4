import {Flags} from '@oclif/core'
import {keysAfterRowsBytes} from '../lib/keys-after-rows.js'
import type {SetupResult} from '../setup/run-setup.js'
import {BaseCommand} from '../ui/base-command.js'
import {COMMON_EXITS, exitCodesHelp, INTERRUPTED_EXIT} from '../ui/exit-codes-help.js'
import {renderPlan, renderSetup} from '../ui/start-plan.js'
import {eventStreamUi} from '../ui/event-stream.js'
import {verboseFlag} from '../ui/preflight-report.js'

export default class Start extends BaseCommand<typeof Start> {
  static override summary = 'Run, or resume, the replication setup until replication is running.'
  static override description =
    'Runs the steps preflight, binlog, replication-user, firewall, snapshot, link and replicate, each checking first what is ' +
    'already done. Interrupted at any moment (Ctrl-C, kill -9, a lost connection), it simply resumes when run again.\n\n' +
    exitCodesHelp({
      ok: 'replication is running and has caught up (with --dry-run: the plan was printed)',
      failed: 'a step failed: fix what it says and run datain start again',
      ...COMMON_EXITS,
      broken: 'replication started but a thread stopped on an error',
      lagging: 'replication runs but had not caught up in time',
    }, `${INTERRUPTED_EXIT}: run datain start again to resume`)

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --profile prod --dry-run',
    '<%= config.bin %> <%= command.id %> --parallel 4',
    '<%= config.bin %> <%= command.id %> --replace-databases --dry-run',
  ]

  static override flags = {
    'replace-databases': Flags.boolean({
      summary: 'This run only: drop the selected databases that already exist on the replica and copy them again from the source.',
      default: false,
    }),
    'take-over-replica': Flags.boolean({
      summary: "This run only: stop and replace the replica's replication link to another source.",
      default: false,
    }),
    'dry-run': Flags.boolean({summary: 'Print each step\'s plan (SQL, ARM calls, commands; secrets masked) and change nothing.', default: false}),
    verbose: verboseFlag,
    parallel: Flags.integer({
      summary: 'Threads of the snapshot copy (default: one per core, 2 to 8, within both servers’ spare connections); 1 copies in a single stream of mariadb-dump into mariadb.',
      description:
        'Default: one per core of this machine (2 to 8), within the connections both servers have to spare. Each thread holds one ' +
        'connection to the source (in the snapshot) and one to the replica. The copy goes as one stream anyway when the replica ' +
        'refuses LOAD DATA LOCAL (local_infile OFF) or the databases hold sequences. Only this run: a resumed start may choose another.',
      min: 1,
      max: 64,
      env: 'DATAIN_PARALLEL',
    }),
  }

  async run(): Promise<SetupResult> {
    const {flags} = await this.parse(Start)
    keysAfterRowsBytes() // a bad DATAIN_KEYS_AFTER_ROWS_MB ends the command (exit 2) before anything is done, not at the copy
    // Loaded here, not at the top: the setup pulls in the Azure SDK, the MariaDB connector and execa, which --help does not need.
    const {runSetup} = await import('../setup/run-setup.js')
    const result = await runSetup({
      home: this.home,
      profile: flags.profile,
      dryRun: flags['dry-run'],
      parallel: flags.parallel,
      // Never saved: the next start asks again.
      run: {replaceDatabases: flags['replace-databases'], takeOverReplica: flags['take-over-replica']},
      signal: this.abortSignal(),
      // Under --json the run streams its events, one JSON line each; a dry run only plans.
      ui: this.jsonEnabled() && !flags['dry-run'] ? eventStreamUi() : this.stepUi({verbose: flags.verbose}),
    })
    if (!this.jsonEnabled()) this.log(flags['dry-run'] ? renderPlan(result) : renderSetup(result))
    return result
  }

  /** The result (or error) under --json: one line, the last of the event stream. */
  protected override logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json)}\n`)
  }
}
