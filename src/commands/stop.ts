import {Flags} from '@oclif/core'
import {BaseCommand} from '../ui/base-command.js'
import {COMMON_EXITS, exitCodesHelp, INTERRUPTED_EXIT} from '../ui/exit-codes-help.js'
import {MAX_TIMER_SECONDS, secondsFromEnv} from '../lib/env-seconds.js'
import {CUTOVER_TIMEOUT_ENV, DEFAULT_CUTOVER_TIMEOUT_MS} from '../stop/defaults.js'
import type {StopResult} from '../stop/run-stop.js'

export default class Stop extends BaseCommand<typeof Stop> {
  static override summary =
    'Stop replication; --remove ends the link; --cutover fences the source, waits until the replica has everything, then ends the link; --cleanup removes what datain created.'
  static override description =
    "Without flags, stops replication (az_replication_stop) and leaves the link in place: 'datain start' starts it again. " +
    '--remove also removes the link (az_replication_remove_master): the replica stands alone and the setup is finished. ' +
    '--cutover waits until the replica has applied everything the source wrote (by GTID or binlog position), then stops and removes the link ' +
    'and enables the events the copy disabled on the replica. It makes the source read-only for the last stretch and leaves it so; ' +
    '--no-lock-source leaves the source writable (when the application is stopped already), and writes made after the final position are then not on the replica. ' +
    'If a cutover is killed, the next datain stop puts read_only back (the link still in place) or keeps it (the link removed), as the checkpoint recorded. ' +
    '--cleanup (with or after a removal) drops the replication user datain created, deletes the firewall rules it added and puts back the server parameters it changed. ' +
    'Every action is safe to repeat.\n\n' +
    exitCodesHelp({
      ok: 'done: replication stopped, the link removed or the cleanup made, as asked',
      failed: 'an action failed (the source stayed writable, a link that is gone)',
      ...COMMON_EXITS,
      broken: 'with --cutover: replication broke while the replica caught up',
    }, `${INTERRUPTED_EXIT}; a cutover first puts back what it changed`)

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --cutover',
    '<%= config.bin %> <%= command.id %> --cutover --verify',
    '<%= config.bin %> <%= command.id %> --cutover --no-lock-source --timeout 1800',
    '<%= config.bin %> <%= command.id %> --remove --cleanup --json',
  ]

  static override flags = {
    remove: Flags.boolean({summary: 'Also remove the replication link: the replica becomes a standalone server.', default: false}),
    cutover: Flags.boolean({summary: 'Wait until the replica has applied everything the source wrote, then stop and remove the link.', default: false}),
    // No defaults: a flag given without --cutover is refused, which a default would hide.
    'lock-source': Flags.boolean({
      summary: 'With --cutover (on by default): make the source read-only (SET GLOBAL read_only = ON) for the last catch-up, and leave it so; --no-lock-source leaves it writable.',
      allowNo: true,
    }),
    timeout: Flags.integer({
      summary: `With --cutover: seconds to wait for the replica to catch up (default ${DEFAULT_CUTOVER_TIMEOUT_MS / 1000}; env ${CUTOVER_TIMEOUT_ENV}, read only for a cutover).`,
      min: 1,
      max: MAX_TIMER_SECONDS,
    }),
    verify: Flags.boolean({
      summary: 'With --cutover: compare the replica with the source (datain verify) once it has caught up, and keep the link if they differ.',
      default: false,
    }),
    cleanup: Flags.boolean({summary: 'Remove the replication user, firewall rules and server parameter changes datain made (with or after --remove).', default: false}),
  }

  async run(): Promise<StopResult> {
    const {flags} = await this.parse(Stop)
    // Loaded here, not at the top: the stop pulls in the MariaDB connector and the Azure SDK, which --help does not need.
    const [{runStop}, {renderStop}] = await Promise.all([import('../stop/run-stop.js'), import('../ui/stop.js')])
    const timeout = flags.timeout ?? (flags.cutover ? secondsFromEnv(CUTOVER_TIMEOUT_ENV, DEFAULT_CUTOVER_TIMEOUT_MS / 1000) : undefined)
    // The first signal aborts: the cutover puts the source back before it exits. Later ones must not
    // kill it halfway through that (the checkpoint would still let the next 'datain stop' finish it).
    const signal = this.abortSignal({
      again: 'wait',
      first: (name) => `${name}: stopping; datain puts back what it changed before it exits.`,
      waiting: (name) =>
        `${name}: datain is already stopping and puts back what it changed first (a bounded wait). kill -9 is safe too: the next 'datain stop' finishes it.`,
    })
    const result = await runStop({
      home: this.home,
      profile: flags.profile,
      remove: flags.remove,
      cutover: flags.cutover,
      lockSource: flags['lock-source'],
      cleanup: flags.cleanup,
      timeoutMs: timeout === undefined ? undefined : timeout * 1000,
      verify: flags.verify,
      signal,
      ui: this.stepUi(),
    })
    if (!this.jsonEnabled()) this.log(renderStop(result))
    return result
  }
}
