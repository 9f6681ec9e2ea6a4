import {quoteAccount, quoteString} from '../../lib/sql.js'
import type {Check} from '../check.js'
import {sourceAccounts} from './source-accounts.js'

/**
 * datain creates the replication user and may later drop it (`stop --cleanup`): an account of that
 * name that datain did not create is never taken over.
 */
export const replicationUser: Check = {
  id: 'replication-user',
  title: 'Replication user name',
  needs: [],
  async run(ctx) {
    const name = ctx.settings.replicationUser
    const {accounts, from} = await sourceAccounts(ctx.source)
    const existing = accounts.filter((a) => a.user === name).map((a) => (a.role ? `role ${quoteAccount(a)}` : quoteAccount(a)))
    if (existing.length === 0 && from !== 'mysql.user') {
      return {
        status: 'warn',
        message: `datain may not read the source's mysql.user, so it cannot tell whether an account named ${quoteString(name)} exists; it will not take over one it did not create.`,
        fix: `Check as an administrator on the source: SELECT User, Host FROM mysql.user WHERE User = ${quoteString(name)}; if a row comes back, choose another name with --replication-user.`,
        offenders: [],
      }
    }
    if (existing.length === 0) {
      return {status: 'pass', message: `No account named ${quoteString(name)} exists on the source (read from ${from}): datain will create it.`}
    }
    if (ctx.own.replicationUserCreated) {
      return {status: 'pass', message: `${existing.join(', ')} ${existing.length === 1 ? 'exists' : 'exist'} on the source and ${existing.length === 1 ? 'is' : 'are'} datain's own, from an earlier run of this setup: it will be reused and repaired.`}
    }
    return {
      status: 'fail',
      message: `${existing.join(', ')} already ${existing.length === 1 ? 'exists on the source, an account' : 'exist on the source, accounts'} datain did not create; datain will not take ${existing.length === 1 ? 'it' : 'them'} over.`,
      fix:
        `Choose another name with --replication-user, or, if nothing uses it, drop it on the source: ` +
        `${existing.map((a) => (a.startsWith('role ') ? `DROP ROLE ${a.slice(5)};` : `DROP USER ${a};`)).join(' ')}`,
      offenders: existing,
    }
  },
}
