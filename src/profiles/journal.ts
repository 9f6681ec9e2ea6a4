import {openProfile} from '../state/profile-store.js'
import type {JournalEntry} from '../state/schema.js'
import {DatainError, ExitCode} from '../lib/errors.js'

export interface ProfileJournal {
  profile: string
  entries: JournalEntry[]
}

/**
 * The journal of profile `name`, oldest entry first (the last `limit` ones when given). Reads without
 * the lock, so that it runs beside a `datain start`.
 */
export async function readProfileJournal(home: string, name: string, limit?: number): Promise<ProfileJournal> {
  const store = openProfile(home, name)
  if (!(await store.exists())) {
    throw new DatainError(`There is no profile "${name}" (looked in ${store.dir}): 'datain profiles' lists the profiles there are.`, {
      code: 'E_PROFILE_NOT_FOUND',
      exit: ExitCode.usage,
      suggestions: ['datain profiles'],
    })
  }
  const entries = await store.readJournal()
  return {profile: name, entries: limit === undefined ? entries : entries.slice(-limit)}
}
