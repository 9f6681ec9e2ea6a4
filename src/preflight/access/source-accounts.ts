import type {Connection} from 'mariadb'
import {type Account, isAccessDenied} from '../../lib/sql.js'

export interface SourceAccount extends Account {
  role: boolean
}

export interface SourceAccounts {
  accounts: SourceAccount[]
  /** Where they were read: mysql.user sees every account; the fallback only those this user may see. */
  from: 'mysql.user' | 'information_schema.USER_PRIVILEGES'
}

/** The source's accounts and roles, from mysql.user when this user may read it. */
export async function sourceAccounts(source: Connection): Promise<SourceAccounts> {
  try {
    const rows: Array<{user: string; host: string; isRole: string}> = await source.query(
      'SELECT User AS user, Host AS host, is_role AS isRole FROM mysql.user ORDER BY User, Host',
    )
    return {
      from: 'mysql.user',
      accounts: rows.map((r) => (r.isRole === 'Y' ? {user: r.user, role: true} : {user: r.user, host: r.host, role: false})),
    }
  } catch (error) {
    if (!isAccessDenied(error)) throw error
  }
  const rows: Array<{grantee: string}> = await source.query('SELECT DISTINCT GRANTEE AS grantee FROM information_schema.USER_PRIVILEGES ORDER BY GRANTEE')
  const accounts: SourceAccount[] = []
  for (const {grantee} of rows) {
    const account = /^'([\s\S]*)'@'([^']*)'$/.exec(grantee)
    if (account) accounts.push({user: account[1]!, host: account[2]!, role: false})
    else accounts.push({user: grantee.replace(/^'([\s\S]*)'$/, '$1'), role: true})
  }
  return {from: 'information_schema.USER_PRIVILEGES', accounts}
}
