/** The bench's data: the source's tables, their state for the identity check, and the servers' CPU. */
import {readFile} from 'node:fs/promises'
import type {MariaDbServer} from '../../sandbox/mariadb-server.js'
import type {Sandbox} from '../../sandbox/sandbox.js'
import {benchmarkStatements} from '../../sandbox/sample-data.js'

export const DATABASE = 'bench'

/**
 * The benchmark's tables on the source: each table's statements in order, four tables at a time
 * (thousands of small tables one after the other took minutes), then ANALYZE for the estimates.
 * The database is dropped first, so a curve refills the same source.
 */
export async function fill(server: MariaDbServer, tables: number, rows: number): Promise<void> {
  const [drop, create, ...perTable] = benchmarkStatements({tables, rows, database: DATABASE})
  await server.execute([drop!, create!])
  const groups: string[][] = []
  for (const sql of perTable) {
    if (sql.startsWith('CREATE TABLE') || groups.length === 0) groups.push([])
    groups.at(-1)!.push(sql)
  }
  await Promise.all(
    Array.from({length: 4}, async () => {
      const conn = await server.connectAsRoot()
      try {
        for (let group = groups.shift(); group; group = groups.shift()) for (const sql of group) await conn.query(sql)
      } finally {
        await conn.end()
      }
    }),
  )
  const names = tableNames(tables)
  for (let i = 0; i < names.length; i += 1000) await server.execute([`ANALYZE TABLE ${names.slice(i, i + 1000).join(', ')}`])
}

/** InnoDB data and indexes of the benchmark's tables, in MB (the MB of MB/s). */
export async function sourceMegabytes(server: MariaDbServer): Promise<number> {
  const [size] = await server.query<Array<{data: bigint; index: bigint}>>(
    "SELECT SUM(DATA_LENGTH) AS data, SUM(INDEX_LENGTH) AS `index` FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
    [DATABASE],
  )
  return (Number(size!.data) + Number(size!.index)) / 1024 / 1024
}

export function tableNames(tables: number): string[] {
  return Array.from({length: tables}, (_, i) => `\`${DATABASE}\`.\`sbtest${i + 1}\``)
}

/**
 * Row count and CHECKSUM TABLE of every table of the benchmark, on one connection, 500 tables a
 * statement (thousands of tables, a connection per query, took minutes). A missing table is [-1, 'null'].
 */
export async function tableState(server: MariaDbServer, tables: number): Promise<Record<string, [number, string]>> {
  const state: Record<string, [number, string]> = {}
  const conn = await server.connectAsRoot()
  try {
    const names = tableNames(tables)
    for (let i = 0; i < names.length; i += 500) {
      const slice = names.slice(i, i + 500)
      const counts = await conn
        .query<Array<{i: number; n: bigint}>>(slice.map((t, j) => `(SELECT ${j} AS i, COUNT(*) AS n FROM ${t})`).join(' UNION ALL '))
        .then((found) => found.sort((a, b) => Number(a.i) - Number(b.i)))
        // A table missing fails the whole statement: then one at a time, -1 for those missing.
        .catch(async () => Promise.all(slice.map(async (t) => ((await conn.query<Array<{n: bigint}>>(`SELECT COUNT(*) AS n FROM ${t}`).catch(() => [{n: -1n}]))[0]!))))
      // CHECKSUM TABLE of a missing table answers a NULL checksum (and a warning) rather than failing.
      const sums = await conn.query<Array<{Checksum: bigint | null}>>(`CHECKSUM TABLE ${slice.join(', ')}`)
      slice.forEach((t, j) => (state[t] = [Number(counts[j]!.n), String(sums[j]?.Checksum ?? null)]))
    }
  } finally {
    await conn.end()
  }
  return state
}

export interface Cpu {
  source: number
  replica: number
  tool: number
  /** This process: the sandbox's gateway (which terminates TLS both ways) and ARM emulator run in it. */
  gateway: number
}

/**
 * CPU seconds (user + system) so far of the two servers, and of this process's finished children:
 * the tools (mariadb-dump, mariadb, mydumper, myloader, datain), which have all been waited for when
 * a method ends. Where the cores went explains a ratio better than the seconds alone.
 */
export async function cpuSeconds(sandbox: Sandbox): Promise<Cpu> {
  const ticks = 100 // USER_HZ on Linux
  const fields = async (pid: number | 'self') => (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ').map(Number)
  // After "pid (comm) ": state is field 0, so utime, stime, cutime, cstime are 11, 12, 13, 14.
  const own = async (pid: number) => {
    const f = await fields(pid)
    return (f[11]! + f[12]!) / ticks
  }
  const self = await fields('self')
  return {
    source: await own(sandbox.source.server.pid),
    replica: await own(sandbox.replica.server.pid),
    tool: (self[13]! + self[14]!) / ticks,
    gateway: (self[11]! + self[12]!) / ticks,
  }
}

/** Stops what a datain run left linked and created, so that the next method starts from the same place. */
export async function cleanUp(sandbox: Sandbox): Promise<void> {
  await sandbox.replica.server.execute(['STOP ALL SLAVES', 'RESET SLAVE ALL', `DROP DATABASE IF EXISTS ${DATABASE}`]).catch(() => {})
  await sandbox.source.server.execute(["DROP USER IF EXISTS 'datain_repl'@'%'"])
  for (const name of [...sandbox.azure.state.firewallRules.keys()]) if (name !== 'bench-loopback') sandbox.azure.state.firewallRules.delete(name)
}
