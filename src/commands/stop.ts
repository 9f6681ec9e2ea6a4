import {Flags} from '@oclif/core'
import {BaseCommand} from '../lib/base-command.js'
import {DEFAULT_CUTOVER_TIMEOUT_MS} from '../stop/cutover.js'
import {renderStop} from '../stop/render.js'
import {runStop, type StopResult} from '../stop/run-stop.js'

export default class Stop extends BaseCommand<typeof Stop> {
  static override summary = 'Stop replication; --remove ends the link, --cutover moves the application to the replica, --cleanup removes what datain created.'
  static override description =
    "Without flags, stops replication (az_replication_stop) and leaves the link in place: 'datain start' starts it again. " +
    '--remove also removes the link (az_replication_remove_master): the replica stands alone and the setup is finished. ' +
    '--cutover waits until the replica has applied everything the source wrote (by GTID or binlog position), then stops and removes the link ' +
    'and enables the events the copy disabled on the replica; --lock-source makes the source read-only for the last stretch and leaves it so. ' +
    '--cleanup (with or after a removal) drops the replication user datain created, deletes the firewall rules it added and puts back the server parameters it changed. ' +
    'Every action is safe to repeat.'

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --cutover --lock-source',
    '<%= config.bin %> <%= command.id %> --remove --cleanup --json',
  ]

  static override flags = {
    remove: Flags.boolean({summary: 'Also remove the replication link: the replica becomes a standalone server.', default: false}),
    cutover: Flags.boolean({summary: 'Wait until the replica has applied everything the source wrote, then stop and remove the link.', default: false}),
    'lock-source': Flags.boolean({
      summary: 'With --cutover: make the source read-only (SET GLOBAL read_only = ON) for the last catch-up, and leave it so.',
      default: false,
      dependsOn: ['cutover'],
    }),
    timeout: Flags.integer({summary: 'With --cutover: seconds to wait for the replica to catch up.', default: DEFAULT_CUTOVER_TIMEOUT_MS / 1000, min: 1}),
    cleanup: Flags.boolean({summary: 'Remove the replication user, firewall rules and server parameter changes datain made (with or after --remove).', default: false}),
  }

  async run(): Promise<StopResult> {
    const {flags} = await this.parse(Stop)
    const controller = new AbortController()
    const abort = () => controller.abort()
    process.once('SIGINT', abort)
    process.once('SIGTERM', abort)
    try {
      const result = await runStop({
        home: this.home,
        profile: flags.profile,
        remove: flags.remove,
        cutover: flags.cutover,
        lockSource: flags['lock-source'],
        cleanup: flags.cleanup,
        timeoutMs: flags.timeout * 1000,
        signal: controller.signal,
        ui: this.stepUi(),
      })
      if (!this.jsonEnabled()) this.log(renderStop(result))
      return result
    } finally {
      process.off('SIGINT', abort)
      process.off('SIGTERM', abort)
    }
  }
}
