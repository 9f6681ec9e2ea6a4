import {listProfiles, openProfile} from '../state/profile-store.js'
import type {Checkpoint, Settings} from '../state/schema.js'
import {isDatainError} from '../lib/errors.js'
import {SETUP_STEPS} from '../steps/index.js'
import {readLockHolder} from '../status/lock-holder.js'
import {setupProgress, stepStatuses} from '../status/setup-progress.js'
import {removedRecord, STOP_RECORDS} from '../state/stop-records.js'

/** Where a profile's setup stands, read from its files alone: no server is asked. */
export type ProfileStand =
  | 'not-started'
  | 'running'
  | 'failed'
  | 'interrupted'
  | 'incomplete'
  | 'replicating'
  | 'stopped'
  | 'removed'
  | 'corrupt'

export interface ProfileSummary {
  name: string
  /** `azure-mariadb` unless the profile names another target; null when the settings cannot be read. */
  target: string | null
  /** `user@host:port`; never a password (none is in the settings). */
  source: string | null
  replica: string | null
  stand: ProfileStand
  /** For people: "snapshot failed", "replicating (setup done)", "removed (cut over)"… */
  standText: string
  /** The step the setup is at, when one is. */
  step: string | null
  updatedAt: string | null
  /** What is damaged in a corrupt profile (the file and the problem), and the fix. */
  problem: string | null
}

export interface ProfileList {
  home: string
  profiles: ProfileSummary[]
}

/**
 * Every profile under `home` with where its setup stands. Reads without taking any lock, so that it
 * runs beside a `datain start`; a profile whose files are damaged is listed as corrupt, never thrown.
 */
export async function listProfileSummaries(home: string): Promise<ProfileList> {
  const names = await listProfiles(home)
  const profiles = await Promise.all(names.map((name) => summarise(home, name)))
  return {home, profiles}
}

async function summarise(home: string, name: string): Promise<ProfileSummary> {
  const store = openProfile(home, name)
  let settings: Settings | undefined
  try {
    settings = await store.readSettings()
    const checkpoint = await store.readCheckpoint()
    const holder = await readLockHolder(store.dir)
    return {...describeSettings(name, settings), ...standOf(checkpoint, holder), updatedAt: Object.keys(checkpoint.steps).length > 0 ? checkpoint.updatedAt : settings.updatedAt, problem: null}
  } catch (error) {
    if (!isDatainError(error)) throw error
    return {
      ...(settings ? describeSettings(name, settings) : {name, target: null, source: null, replica: null}),
      stand: 'corrupt',
      standText: 'corrupt: its files cannot be read',
      step: null,
      updatedAt: settings?.updatedAt ?? null,
      problem: error.message,
    }
  }
}

function describeSettings(name: string, settings: Settings): Pick<ProfileSummary, 'name' | 'target' | 'source' | 'replica'> {
  // The schema gives profiles written before datain knew other targets `azure-mariadb`.
  const {target} = settings
  const {source, replica} = settings
  return {name, target, source: `${source.user}@${source.host}:${source.port}`, replica: `${replica.user}@${replica.host}:${replica.port}`}
}

type Stand = Pick<ProfileSummary, 'stand' | 'standText' | 'step'>

function standOf(checkpoint: Checkpoint, holder: Awaited<ReturnType<typeof readLockHolder>>): Stand {
  const removed = removedRecord(checkpoint)
  if (removed) {
    const how = removed.output.via === 'cutover' ? 'cut over' : 'link removed'
    return {stand: 'removed', standText: `removed (${how} at ${removed.output.removedAt})`, step: null}
  }
  if (checkpoint.steps[STOP_RECORDS.replicate]?.error?.code === 'E_STOPPED') {
    return {stand: 'stopped', standText: "stopped ('datain start' starts it again)", step: STOP_RECORDS.replicate}
  }
  const steps = stepStatuses(SETUP_STEPS, checkpoint, holder, new Date())
  const progress = setupProgress(steps, holder)
  switch (progress.kind) {
    case 'not-started':
      return {stand: 'not-started', standText: 'not started', step: null}
    case 'complete':
      return {stand: 'replicating', standText: 'replicating (setup done)', step: null}
    case 'in-progress': {
      const step = progress.step?.id ?? null
      return {stand: 'running', standText: `running${step ? ` ${step}` : ''} (pid ${progress.holder.pid})`, step}
    }
    case 'incomplete': {
      const {id, state} = progress.step
      if (state === 'failed') return {stand: 'failed', standText: `${id} failed`, step: id}
      if (state === 'interrupted' || state === 'running') return {stand: 'interrupted', standText: `${id} interrupted`, step: id}
      return {stand: 'incomplete', standText: `${id} not run yet`, step: id}
    }
  }
}
