import {stat} from 'node:fs/promises'
import {DatainError, ExitCode} from '../lib/errors.js'

/**
 * E_STATE_NOT_OWN (exit 2) when one of `dirs` that exists belongs to another user than the one
 * running datain (or root): that user could rewrite the settings datain trusts (the servers it
 * sends passwords to) or swap a folder for one of their own, whatever the files' own modes.
 */
export async function assertOwnFolders(dirs: string[]): Promise<void> {
  const uid = process.getuid?.()
  if (uid === undefined) return
  for (const dir of dirs) {
    const owner = await stat(dir).then((info) => info.uid, () => undefined)
    // root's folders are trusted as ssh trusts them: root can change anything of this user's anyway.
    if (owner === undefined || owner === uid || owner === 0) continue
    throw new DatainError(
      `datain does not use ${dir}: it belongs to another user (uid ${owner}), not to you (uid ${uid}), who could change the settings datain ` +
        'trusts or replace what it writes. Set DATAIN_HOME to a folder of your own, or give this one to your user (chown).',
      {code: 'E_STATE_NOT_OWN', exit: ExitCode.usage},
    )
  }
}
