import {Flags} from '@oclif/core'
import {BaseCommand} from '../ui/base-command.js'
import {COMMON_EXITS, exitCodesHelp, INTERRUPTED_EXIT} from '../ui/exit-codes-help.js'
import {redact} from '../lib/redact.js'
import {terminalPaint} from '../ui/paint.js'
import {renderStatus, stdoutWidth} from '../ui/status.js'
import type {StatusReport} from '../status/status-report.js'
import {MAX_TIMER_SECONDS} from '../lib/env-seconds.js'

export default class Status extends BaseCommand<typeof Status> {
  static override summary = 'Show where the setup stands and how replication is doing.'
  static override description =
    'Each setup step and its checkpoint, then live from the replica: both threads, Seconds_Behind_Master, the source position against what the replica ' +
    'executed (the lag in transactions and bytes), the last errors with what to do, the apply rate and the time to catch up. ' +
    'Cron and monitoring can call it as it is: the exit code says how replication is doing.\n\n' +
    exitCodesHelp({
      ok: 'replication healthy',
      failed: 'the setup is not finished (not started, running, failed or interrupted)',
      usage: COMMON_EXITS.usage,
      broken: 'replication broken or stopped',
      unreachable: 'the replica unreachable, or credentials refused',
      lagging: 'replicating, but behind by more than --max-lag',
    }, `${INTERRUPTED_EXIT} (with --watch, Ctrl-C is how it ends: exit 0)`)

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --watch --interval 5',
    '<%= config.bin %> <%= command.id %> --json --max-lag 60',
  ]

  static override flags = {
    watch: Flags.boolean({summary: 'Refresh until Ctrl-C (not with --json: call status --json in a loop instead).', default: false, exclusive: ['json']}),
    interval: Flags.integer({summary: 'Seconds between two refreshes with --watch.', default: 2, min: 1, max: MAX_TIMER_SECONDS, env: 'DATAIN_STATUS_INTERVAL'}),
    'max-lag': Flags.integer({summary: 'Seconds behind beyond which replication counts as lagging (exit 5).', default: 300, min: 0, env: 'DATAIN_MAX_LAG'}),
  }

  async run(): Promise<StatusReport | void> {
    const {flags} = await this.parse(Status)
    // Loaded here, not at the top: the monitor pulls in the MariaDB connector and the Azure SDK, which --help does not need.
    const [{StatusMonitor}, {watchStatus}] = await Promise.all([import('../status/monitor.js'), import('../ui/status-watch.js')])
    const monitor = await StatusMonitor.open({home: this.home, profile: flags.profile, maxLag: flags['max-lag'], note: (m) => this.note(m)})
    try {
      if (!flags.watch) {
        const report = await monitor.check({sampleMs: 1000})
        if (!this.jsonEnabled()) this.log(redact(renderStatus(report, {paint: terminalPaint(), width: stdoutWidth()})))
        process.exitCode = report.exitCode
        return report
      }
      // Ctrl-C is how a watch ends: it ends cleanly (exit 0); a second signal ends it at once.
      await watchStatus({
        check: () => monitor.check(),
        render: (report, width) => renderStatus(report, {paint: terminalPaint(), width}),
        intervalSeconds: flags.interval,
        signal: this.abortSignal(),
      })
    } finally {
      await monitor.close()
    }
  }
}
