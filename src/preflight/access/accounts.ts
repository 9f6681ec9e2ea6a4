import {parseUserAtHost, quoteAccount, sameAccount} from '../../lib/sql.js'
import type {Check} from '../check.js'
import {plural} from '../../lib/format.js'
import {type SourceAccount, sourceAccounts} from './source-accounts.js'

/** Accounts every server has, or Azure and MariaDB manage themselves: nothing to recreate. */
const SYSTEM_USERS = new Set(['root', 'mariadb.sys', 'azure_superuser', 'PUBLIC'])

/** Accounts and grants live in the `mysql` schema, which is not replicated: they do not reach the replica. */
export const accounts: Check = {
  id: 'accounts',
  title: 'Accounts that will not exist on the replica',
  needs: [],
  async run(ctx) {
    const [row] = await ctx.source.query<Array<{user: string}>>('SELECT CURRENT_USER() AS user')
    const admin = parseUserAtHost(row!.user)
    const {accounts: all, from} = await sourceAccounts(ctx.source)
    const isSystem = (a: SourceAccount) =>
      SYSTEM_USERS.has(a.user) ||
      // mariadb-install-db creates 'mysql'@'localhost' for the system user; '' are anonymous accounts.
      a.user === '' ||
      (a.user === 'mysql' && a.host === 'localhost') ||
      (!a.role && a.user === ctx.settings.replicationUser) ||
      (!a.role && sameAccount(a, admin))
    const offenders = all.filter((a) => !isSystem(a)).map((a) => (a.role ? `role ${quoteAccount(a)}` : quoteAccount(a)))
    const seen = from === 'mysql.user' ? '' : ` (read from ${from}: only the accounts this user may see)`
    const fix =
      `Users are not copied by replication: run 'datain accounts' (after 'datain start', or as soon as the replica lets datain in; ` +
      `--dry-run shows the statements first). It creates them on the replica with their password hashes, grants and roles, ` +
      `and lists what the replica refuses (SUPER and other admin privileges on Azure).`
    if (offenders.length === 0 && from !== 'mysql.user') {
      return {
        status: 'warn',
        message: `${quoteAccount(admin)} may not read mysql.user, so datain cannot list the source's accounts, which are not replicated.`,
        fix: `Give datain's user SELECT on mysql.* on the source so that it can read them, or list them as an administrator: SELECT User, Host FROM mysql.user; ${fix}`,
        offenders: [],
      }
    }
    if (offenders.length === 0) {
      return {status: 'pass', message: `The source has no account to recreate on the replica besides the system ones, datain's user and the replication user${seen}.`}
    }
    return {
      status: 'warn',
      message:
        `${plural(offenders.length, 'account or role', 'accounts and roles')} of the source will not exist on the replica, ` +
        `because accounts and grants are not replicated${seen}: ${offenders.join(', ')}.`,
      fix,
      offenders,
    }
  },
}
