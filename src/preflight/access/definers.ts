import {parseUserAtHost, quoteAccount, quoteQualified, sameAccount} from '../../lib/sql.js'
import type {Check} from '../check.js'
import {describeDatabases, plural} from '../../lib/format.js'
import {selectedObjects} from './objects.js'

/**
 * Whose name do the views, routines, triggers and events carry? Azure's admin has no SUPER or SET
 * USER, so a foreign DEFINER fails to restore (error 1227): the snapshot rewrites every definer to
 * the replica admin, and on the replica these objects run as that admin.
 */
export const definers: Check = {
  id: 'definers',
  title: 'Definers of views, routines, triggers and events',
  needs: ['replica'],
  async run(ctx) {
    // The server's name for the admin (Azure: `admin`@`%`), which the restored objects carry, not the login `admin@server`.
    const [row] = await ctx.replica!.query<Array<{user: string}>>('SELECT CURRENT_USER() AS user')
    const admin = parseUserAtHost(row!.user)
    const objects = await selectedObjects(ctx)
    const foreign = objects.filter((o) => !sameAccount(parseUserAtHost(o.definer), admin))
    const where = describeDatabases(ctx.databases)
    if (foreign.length === 0) {
      return {
        status: 'pass',
        message:
          objects.length === 0
            ? `No view, routine, trigger or event in ${where}: no definer to rewrite.`
            : `${objects.length === 1 ? 'The only view, routine, trigger or event' : `All ${objects.length} views, routines, triggers and events`} ` +
              `in ${where} already ${objects.length === 1 ? 'names' : 'name'} the replica admin ${quoteAccount(admin)} as definer.`,
      }
    }

    const byDefiner = new Map<string, number>()
    for (const o of foreign) {
      const definer = quoteAccount(parseUserAtHost(o.definer))
      byDefiner.set(definer, (byDefiner.get(definer) ?? 0) + 1)
    }
    const runAsDefiner = foreign.filter((o) => o.security === 'DEFINER').length
    const rights =
      runAsDefiner === 0
        ? foreign.length === 1
          ? "it is SQL SECURITY INVOKER and keeps running with its caller's rights"
          : "all of them are SQL SECURITY INVOKER and keep running with their caller's rights"
        : `${runAsDefiner === foreign.length ? (foreign.length === 1 ? 'it runs' : 'all of them run') : `${runAsDefiner} of them (SQL SECURITY DEFINER views and routines, triggers, events) run`} ` +
          `with the admin's rights instead of their definer's`
    return {
      status: 'warn',
      message:
        `${plural(foreign.length, 'object')} in ${where} ${foreign.length === 1 ? 'names' : 'name'} a definer other than the replica admin ${quoteAccount(admin)} ` +
        `(${[...byDefiner].map(([d, n]) => `${d}: ${n}`).join(', ')}); the snapshot rewrites ${foreign.length === 1 ? 'it' : 'them'} to ${quoteAccount(admin)}, ` +
        `so on the replica ${rights}.`,
      fix:
        `Nothing blocks the copy. Review these objects if their definer matters: on the source, ALTER a view or routine to ` +
        `SQL SECURITY INVOKER where it should run with the caller's rights; 'datain accounts' copies the definer accounts to the replica ` +
        `(replication does not), though the copy still makes the replica admin their definer` +
        (ctx.settings.target === 'mariadb' ? '.' : `: Azure's admin cannot name another (error 1227).`),
      offenders: foreign.map(
        (o) =>
          `${o.kind} ${quoteQualified(o.database, o.name)} (DEFINER ${quoteAccount(parseUserAtHost(o.definer))}` +
          // Triggers and events have no SQL SECURITY clause: they always run as their definer.
          `${o.kind === 'TRIGGER' || o.kind === 'EVENT' ? '' : `, SQL SECURITY ${o.security}`})`,
      ),
    }
  },
}
