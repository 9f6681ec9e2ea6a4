import type {Sandbox} from '../../sandbox/sandbox.js'

/** SHOW CREATE TABLE of every base table of `databases` (AUTO_INCREMENT's counter aside), by `db.table`. */
export async function definitions(server: Sandbox['source']['server'], databases: string[]): Promise<Record<string, string>> {
  const tables = await server.query<Array<{db: string; t: string}>>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${databases.map(() => '?').join(', ')}) AND TABLE_TYPE = 'BASE TABLE'`,
    databases,
  )
  const out: Record<string, string> = {}
  for (const {db, t} of tables) {
    const [row] = await server.query<Array<Record<string, string>>>(`SHOW CREATE TABLE \`${db.replaceAll('`', '``')}\`.\`${t.replaceAll('`', '``')}\``)
    out[`${db}.${t}`] = row!['Create Table']!.replace(/ AUTO_INCREMENT=\d+/, '')
  }
  return out
}
