import {rm} from 'node:fs/promises'
import path from 'node:path'
import {PROFILE_FILES} from '../state/profile-store.js'
import type {Session} from '../engine/session.js'
import type {Checkpoint} from '../state/schema.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {sameValue, type ParameterChange} from '../state/parameter-change.js'
import {quoteAccount, sqlErrno} from '../lib/sql.js'
import type {StepUi} from '../steps/step.js'
import {createdByDatain} from '../steps/replication-user.js'
import {inspectAccount} from '../steps/replication-user-account.js'
import {REPLICATION_HOST} from '../steps/replication-user-sql.js'
import {STOP_RECORDS} from '../state/stop-records.js'
import type {RuleCleanup} from '../targets/target.js'

/** What `--cleanup` did, part by part; a part found done already says so (safe to repeat). */
export interface CleanupResult {
  replicationUser: {
    user: string
    host: string
    /** `dropped` now; `absent` (dropped earlier); `not-created`: datain did not create it and leaves it alone. */
    action: 'dropped' | 'absent' | 'not-created'
  }
  /** The generated replication password, kept for resumed runs, deleted with the account. */
  secretRemoved: boolean
  firewallRules: RuleCleanup
  parameters: Array<{
    name: string
    /** The value before datain changed it: what the cleanup puts back. */
    previous: string | null
    /** The value datain set. */
    value: string
    /** `restored` now; `already-restored`; `left`: it has another value now (someone set it since), or cannot be put back. */
    action: 'restored' | 'already-restored' | 'left'
    current: string | null
  }>
  completedAt: string
}

export interface CleanupOptions {
  session: Pick<Session, 'profile' | 'settings' | 'store' | 'source' | 'replica' | 'target'>
  checkpoint: Checkpoint
  ui: StepUi
}

/**
 * Removes what datain created for the setup, once the link is removed: puts back the replica's
 * server parameters it changed (only where they still have datain's value), drops the replication
 * user on the source (only if datain created it), and deletes the firewall rules it created (only
 * names recorded in `createdRules`, never a rule it found). The client rule goes last: after it,
 * Azure's gateway may refuse this machine. Each part first looks at what is there, so a second run
 * changes nothing; progress is recorded in the checkpoint's `cleanup` record.
 */
export async function cleanup(o: CleanupOptions): Promise<CleanupResult> {
  const {store} = o.session
  await store.markStop(STOP_RECORDS.cleanup, {state: 'running'})
  const result: Partial<CleanupResult> = {}
  try {
    result.parameters = await restoreParameters(o)
    await store.recordStopProgress(STOP_RECORDS.cleanup, {parameters: result.parameters})
    const user = await dropReplicationUser(o)
    result.replicationUser = user.replicationUser
    result.secretRemoved = user.secretRemoved
    await store.recordStopProgress(STOP_RECORDS.cleanup, {replicationUser: result.replicationUser, secretRemoved: result.secretRemoved})
    result.firewallRules = await o.session.target.network.close({profile: o.session.profile, ui: o.ui, store: o.session.store}, {
      firewall: o.checkpoint.steps.firewall?.output ?? {},
      preflight: o.checkpoint.steps.preflight?.output ?? {},
    })
    result.completedAt = new Date().toISOString()
    const done = result as CleanupResult
    await store.markStop(STOP_RECORDS.cleanup, {state: 'done', output: {...done}})
    await store.journal('cleanup-done', {...done})
    return done
  } catch (error) {
    const known = error instanceof DatainError ? error : undefined
    await store.markStop(STOP_RECORDS.cleanup, {
      state: 'failed',
      output: {...result},
      error: {code: known?.code ?? 'E_INTERNAL', message: known?.message ?? String((error as Error)?.message ?? error)},
    })
    throw error
  }
}

/** Every parameter change recorded by the steps, the first per name (its `previous` is the user's own value). */
function recordedChanges(checkpoint: Checkpoint): ParameterChange[] {
  const {snapshot, link, replicate} = checkpoint.steps
  const all = [snapshot, link, replicate].flatMap((record) => record?.output?.parametersChanged ?? [])
  const byName = new Map<string, ParameterChange>()
  for (const change of all) {
    const key = change.name.toLowerCase()
    const earlier = byName.get(key)
    if (!earlier || (!earlier.changedByDatain && change.changedByDatain)) byName.set(key, change)
  }
  return [...byName.values()].filter((c) => c.changedByDatain)
}

async function restoreParameters(o: CleanupOptions): Promise<CleanupResult['parameters']> {
  const out: CleanupResult['parameters'] = []
  for (const change of recordedChanges(o.checkpoint)) {
    // With the ui: a plain replica's driver says which my.cnf line to remove along with the SET GLOBAL it undoes.
    const restored = await o.session.target.parameters.restore({replica: () => o.session.replica(), ui: o.ui}, change)
    const current = await o.session.target.parameters.current(change.name)
    const action = restored ? 'restored' : current !== null && change.previous !== null && sameValue(current, change.previous) ? 'already-restored' : 'left'
    out.push({name: change.name, previous: change.previous, value: change.value, action, current})
    if (restored) {
      o.ui.info(`Put the replica's server parameter ${change.name} back to ${change.previous}.`)
      await o.session.store.journal('parameter-restored', {name: change.name, value: change.previous, was: change.value})
    } else if (action === 'left') {
      o.ui.info(
        change.previous === null
          ? `Left the replica's ${change.name} as it is: its value before datain changed it is not known.`
          : `Left the replica's ${change.name} at ${current ?? 'its value'}: it no longer has the value datain set (${change.value}), so someone changed it since.`,
      )
    }
  }
  return out
}

async function dropReplicationUser(o: CleanupOptions): Promise<Pick<CleanupResult, 'replicationUser' | 'secretRemoved'>> {
  const recorded = o.checkpoint.steps['replication-user']?.output ?? {}
  const user = recorded.user ?? o.session.settings.replicationUser
  const replicationUser = {user, host: REPLICATION_HOST}
  const account = quoteAccount({user, host: REPLICATION_HOST})
  const source = await o.session.source()
  const state = await inspectAccount(source, user)
  if (state ? !createdByDatain(recorded, user, state) : recorded.created !== true && recorded.creating !== true) {
    // An account that existed before datain looked, or that someone made after datain's CREATE USER failed.
    if (state) o.ui.info(`Left the replication user ${account} on the source: datain has no record that it created this account, so it is someone else's.`)
    return {replicationUser: {...replicationUser, action: 'not-created'}, secretRemoved: false}
  }
  if (state) {
    try {
      // IF EXISTS: the statement reaches the source's binary log, and a replica of its own that lacks the account must not stop on it (1396).
      await source.query('DROP USER IF EXISTS ?@?', [user, REPLICATION_HOST])
    } catch (error) {
      throw sourceError(`drop ${account}`, error)
    }
    o.ui.info(`Dropped the replication user ${account} on the source.`)
    await o.session.store.journal('replication-user-dropped', {user, host: REPLICATION_HOST})
  }
  // The generated password of an account that is gone is of no use to anyone: it is not kept.
  const secrets = path.join(o.session.store.dir, PROFILE_FILES.secrets)
  const secretRemoved = (await o.session.store.readSecrets()) !== undefined
  if (secretRemoved) await rm(secrets, {force: true})
  return {replicationUser: {...replicationUser, action: state ? 'dropped' : 'absent'}, secretRemoved}
}

function sourceError(what: string, error: unknown): DatainError {
  const errno = sqlErrno(error)
  const text = (error as {sqlMessage?: string}).sqlMessage ?? (error as Error)?.message ?? String(error)
  if (errno === undefined || errno >= 45_000) {
    return new DatainError(`datain lost its connection to the source while it tried to ${what} (${text}). Run the same command again: the cleanup goes on where it stopped.`, {
      code: 'E_SOURCE_CONNECTION',
      exit: ExitCode.unreachable,
      cause: error,
    })
  }
  const hint =
    errno === 1290
      ? ' The source is read-only (read_only=ON, as a cutover with --lock-source leaves it) and datain\'s source user lacks READ_ONLY ADMIN: run the cleanup as an account that has it, or after SET GLOBAL read_only = OFF.'
      : errno === 1227 || errno === 1044 || errno === 1142
        ? " datain's source user needs CREATE USER to drop the replication user."
        : ''
  return new DatainError(`The source refused to ${what} (error ${errno}: ${text}).${hint}`, {code: 'E_CLEANUP', exit: ExitCode.failed, cause: error})
}
