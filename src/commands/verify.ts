import {Flags} from '@oclif/core'
import {BaseCommand} from '../ui/base-command.js'
import {COMMON_EXITS, exitCodesHelp} from '../ui/exit-codes-help.js'
import {redact} from '../lib/redact.js'
import type {VerifyResult} from '../verify/result.js'
import {MAX_TIMER_SECONDS} from '../lib/env-seconds.js'

const list = (text: string | undefined) => text?.split(',').map((s) => s.trim()).filter(Boolean)

export default class Verify extends BaseCommand<typeof Verify> {
  static override summary = 'Compare the replica with the source, while replication runs, reading only.'
  static override description =
    'Chunk checksums by primary key on both servers; a chunk that differs is read again once the replica has executed the source position it was read at, ' +
    'and what still differs is reported as table and primary-key values.\n\n' +
    exitCodesHelp({
      ok: 'the replica holds what the source holds',
      failed: 'rows or tables differ (listed)',
      ...COMMON_EXITS,
      broken: 'replication broken or not linked: nothing was compared',
      lagging: 'the replica did not reach a recheck\'s source position within --wait-timeout',
    })

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --databases shop --json',
    '<%= config.bin %> <%= command.id %> --tables shop.orders,shop.customers',
  ]

  static override flags = {
    databases: Flags.string({summary: 'Only these copied databases (comma-separated).', env: 'DATAIN_VERIFY_DATABASES', exclusive: ['tables']}),
    tables: Flags.string({summary: 'Only these tables, as db.table (comma-separated).', env: 'DATAIN_VERIFY_TABLES'}),
    rechecks: Flags.integer({summary: 'Times a chunk that differs is checked again before its rows are compared.', default: 3, min: 1, max: 20, env: 'DATAIN_VERIFY_RECHECKS'}),
    'wait-timeout': Flags.integer({summary: 'Seconds a recheck waits for the replica to catch up (exit 5 beyond).', default: 60, min: 1, max: MAX_TIMER_SECONDS, env: 'DATAIN_VERIFY_WAIT_TIMEOUT'}),
    parallel: Flags.integer({summary: 'Tables compared at once (each with a connection to each server).', default: 4, min: 1, max: 16, env: 'DATAIN_VERIFY_PARALLEL'}),
    'chunk-rows': Flags.integer({summary: 'Rows per checksum chunk.', default: 10_000, min: 100, hidden: true, env: 'DATAIN_VERIFY_CHUNK_ROWS'}),
    'table-checksum': Flags.boolean({summary: 'Try CHECKSUM TABLE before chunks.', default: true, allowNo: true, hidden: true}),
  }

  async run(): Promise<VerifyResult> {
    const {flags} = await this.parse(Verify)
    // Loaded here, not at the top: the comparison pulls in the MariaDB connector, which --help does not need.
    const [{runVerify}, {progressLine, renderVerify}] = await Promise.all([import('../verify/run-verify.js'), import('../ui/verify.js')])
    const progress = progressLine({quiet: this.jsonEnabled()})
    const result = await runVerify({
      home: this.home,
      profile: flags.profile,
      databases: list(flags.databases),
      tables: list(flags.tables),
      rechecks: flags.rechecks,
      waitTimeout: flags['wait-timeout'],
      parallel: flags.parallel,
      chunkRows: flags['chunk-rows'],
      tableChecksum: flags['table-checksum'],
      note: (m) => this.note(m),
      signal: this.abortSignal(),
      onProgress: progress?.update,
    })
    progress?.clear()
    if (!this.jsonEnabled()) this.log(redact(renderVerify(result)))
    process.exitCode = result.exitCode
    return result
  }
}
