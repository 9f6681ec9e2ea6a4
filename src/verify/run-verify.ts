import {serverAddresses, tlsWarnings} from '../engine/addresses.js'
import type {Session} from '../engine/session.js'
import {setupMode} from '../engine/setup-checkpoint.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {openProfile} from '../state/profile-store.js'
import {removedRecord} from '../state/stop-records.js'
import type {VerifyProgress, VerifyResult} from './result.js'
import {phase} from './timing.js'
import {verifyTables} from './verify-tables.js'

export interface VerifyOptions {
  home: string
  profile: string
  databases?: string[]
  tables?: string[]
  rechecks: number
  waitTimeout: number
  parallel: number
  chunkRows?: number
  tableChecksum?: boolean
  note(message: string): void
  onProgress?(progress: VerifyProgress): void
  signal?: AbortSignal
}

/**
 * `datain verify`: reads the profile without its lock (it only reads, beside a running datain),
 * takes the databases the snapshot step copied and the replication mode the link step used, and
 * compares. Not through openSession: its replica target (Azure's, with the Azure SDK: a third of
 * verify's start-up) and its connections are what verify does not use; the warnings and passwords
 * are the same as every command's.
 */
export async function runVerify(options: VerifyOptions): Promise<VerifyResult> {
  phase('run-verify loaded')
  const store = openProfile(options.home, options.profile)
  const settings = await store.readSettings()
  for (const warning of tlsWarnings(settings)) options.note(warning)
  const profile = {profile: options.profile, store, settings, ...(await serverAddresses(settings))}
  phase('profile read')
  return verifySession(profile, options)
}

/** What verifying needs of a session: no connection, lock nor replica target of its own. */
export type VerifySession = Pick<Session, 'profile' | 'store' | 'settings' | 'sourceAddress' | 'replicaAddress'>

/** What a verify run can be narrowed and bounded by; every field has the command's default. */
export type VerifyRunOptions = Partial<Omit<VerifyOptions, 'home' | 'profile' | 'note'>>

/**
 * Verifies an open session's copied databases (the snapshot step's output) in the replication mode
 * its link step used. `datain stop --cutover --verify` calls it after the catch-up, before it
 * unlinks: exit 3 (thrown) if replication broke, `result.exitCode` 1 when rows differ.
 */
export async function verifySession(session: VerifySession, options: VerifyRunOptions = {}): Promise<VerifyResult> {
  const checkpoint = await session.store.readCheckpoint()
  const snapshot = checkpoint.steps.snapshot
  const copied = snapshot?.state === 'done' ? snapshot.output?.databases : undefined
  if (!copied || checkpoint.steps.link?.state !== 'done') {
    throw new DatainError(`The profile '${session.profile}' has not copied and linked its databases yet, so there is nothing to verify.`, {
      code: 'E_VERIFY_NOT_SET_UP',
      exit: ExitCode.failed,
      suggestions: [`Run 'datain start -p ${session.profile}' to finish the setup first.`],
    })
  }
  const removed = removedRecord(checkpoint)
  if (removed) {
    throw new DatainError(
      `The replication link of profile '${session.profile}' was removed at ${removed.output.removedAt} (datain stop): the replica stands alone, so there is no replication to verify.`,
      {
        code: 'E_VERIFY_NOT_LINKED',
        exit: ExitCode.broken,
        suggestions: [`To replicate again, record a new profile ('datain init --profile NEW') and run 'datain start --profile NEW'.`],
      },
    )
  }
  const mode = setupMode(checkpoint, session.settings)
  return verifyTables({
    source: session.sourceAddress,
    replica: session.replicaAddress,
    mode,
    copied,
    databases: options.databases,
    tables: options.tables,
    rechecks: options.rechecks,
    waitTimeout: options.waitTimeout,
    parallel: options.parallel,
    chunkRows: options.chunkRows,
    tableChecksum: options.tableChecksum,
    onProgress: options.onProgress,
    signal: options.signal,
  })
}
