import {quoteQualified} from '../src/lib/sql.js'
import type {MariaDbServer} from './mariadb-server.js'

/**
 * Row count and CHECKSUM TABLE of every base table of `databases`, on one server. `extended`:
 * CHECKSUM TABLE … EXTENDED, which reads every row whatever the engine keeps.
 */
export async function tableFingerprints(
  server: MariaDbServer,
  databases: string[],
  options: {extended?: boolean} = {},
): Promise<Record<string, {rows: number; checksum: string}>> {
  const result: Record<string, {rows: number; checksum: string}> = {}
  for (const db of databases) {
    const tables = await server.query<Array<{t: string}>>(
      "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
      [db],
    )
    for (const {t} of tables) {
      const name = quoteQualified(db, t)
      const [count] = await server.query<Array<{n: bigint}>>(`SELECT COUNT(*) AS n FROM ${name}`)
      const [sum] = await server.query<Array<{Checksum: bigint | null}>>(`CHECKSUM TABLE ${name}${options.extended ? ' EXTENDED' : ''}`)
      result[`${db}.${t}`.toLowerCase()] = {rows: Number(count!.n), checksum: String(sum!.Checksum)}
    }
  }
  return result
}
