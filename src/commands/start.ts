import {Flags} from '@oclif/core'
import {runSetup, type SetupResult} from '../engine/run-setup.js'
import {BaseCommand} from '../lib/base-command.js'
import {renderPlan, renderSetup} from '../lib/setup-report.js'

export default class Start extends BaseCommand<typeof Start> {
  static override summary = 'Run, or resume, the replication setup until replication is running.'
  static override description =
    'Runs the steps preflight, binlog, replication-user, firewall, snapshot, link and replicate, each checking first what is ' +
    'already done. Interrupted at any moment (Ctrl-C, kill -9, a lost connection), it simply resumes when run again.'

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --profile prod --dry-run']

  static override flags = {
    'dry-run': Flags.boolean({summary: 'Print each step\'s plan (SQL, ARM calls, commands; secrets masked) and change nothing.', default: false}),
  }

  async run(): Promise<SetupResult> {
    const {flags} = await this.parse(Start)
    const controller = new AbortController()
    const stop = () => controller.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    try {
      const result = await runSetup({
        home: this.home,
        profile: flags.profile,
        dryRun: flags['dry-run'],
        signal: controller.signal,
        ui: this.stepUi(),
      })
      if (!this.jsonEnabled()) this.log(flags['dry-run'] ? renderPlan(result) : renderSetup(result))
      return result
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
  }
}
