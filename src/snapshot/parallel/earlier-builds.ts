import type {Connection} from 'mariadb'
import {interruptedError, pauseUnlessInterrupted} from '../../lib/client-tool-errors.js'
import {DatainError, ExitCode} from '../../lib/errors.js'
import {placeholders} from '../../lib/sql.js'
import {STALL_TIMEOUT_ENV, stallTimeoutMs} from '../../lib/stall.js'
import {buildBoundMs} from './key-builds.js'
import {type TableInfo, tableLabel} from './tables.js'

/**
 * An index build an earlier run started (KeyBuilds' `ALTER TABLE … ADD KEY …, ALGORITHM=DEFAULT`)
 * goes on on the replica when that datain dies (kill -9, a lost machine): the server runs a
 * statement to its end whether or not its client is still there. A resume that starts meanwhile
 * finds the table's metadata lock taken, and its checks of that table wait behind the build until
 * the stall bound ends them, again on every try, for as long as the build of a large table lasts.
 *
 * So a resume first waits, before it opens the source's snapshot (which must not stay open that
 * long), for the builds of the copy's databases that the replica user's own sessions still run,
 * saying which (the progress line's "db.t (an earlier run's index build)"). The wait is bounded as
 * the build itself is (buildBoundMs of the table's size on the replica, from the build's start);
 * past it the resume fails, naming the thread to KILL. A build that is not building but waits for a
 * lock another session holds is waited for no longer than the stall bound, as this run's own.
 */
export async function waitForEarlierBuilds(
  replica: Connection,
  databases: string[],
  options: {signal: AbortSignal; busy?: Map<number, string>; pollMs?: number; boundMs?: (bytes: number) => number; stallMs?: number},
): Promise<number> {
  const waitedFor = new Set<number>()
  const slot = -1_000_000
  const stallMs = options.stallMs ?? stallTimeoutMs()
  let locked: {id: number; since: number} | undefined
  try {
    for (;;) {
      if (options.signal.aborted) throw interruptedError()
      const builds = await earlierBuilds(replica, databases)
      if (builds.length === 0) return waitedFor.size
      const first = builds[0]!
      for (const build of builds) waitedFor.add(build.id)
      const waitsForLock = /lock/i.test(first.state)
      options.busy?.set(slot, `${tableLabel(first.table)} (an earlier run's index build${waitsForLock ? ', waiting for a lock' : ''})`)
      // Not building but held by another session's lock: no longer than the stall bound, as a build of this run.
      locked = waitsForLock ? (locked?.id === first.id ? locked : {id: first.id, since: Date.now()}) : undefined
      if (locked && Date.now() - locked.since >= stallMs) {
        throw new DatainError(
          `An earlier run's index build of the table ${tableLabel(first.table)} (thread ${first.id} on the replica) waits for a lock held on the replica by another ` +
            `session, so the copy cannot go on. Look at the replica's process list, then run 'datain start' again (${STALL_TIMEOUT_ENV} sets the bound in seconds).`,
          {code: 'E_SNAPSHOT_STALLED', exit: ExitCode.failed},
        )
      }
      const boundMs = (options.boundMs ?? buildBoundMs)(first.bytes)
      if (first.seconds * 1000 > boundMs) {
        throw new DatainError(
          `An earlier run's index build of the table ${tableLabel(first.table)} has been running on the replica for ${first.seconds} s, longer than such a build ` +
            `of its size may take (${Math.round(boundMs / 1000)} s): it holds the table, so the copy cannot go on. End it with 'KILL ${first.id}' on the replica ` +
            `(datain builds the indexes again), then run 'datain start' again.`,
          {code: 'E_SNAPSHOT_STALLED', exit: ExitCode.failed},
        )
      }
      await pauseUnlessInterrupted(options.pollMs ?? 1000, options.signal)
    }
  } finally {
    options.busy?.delete(slot)
  }
}

interface EarlierBuild {
  id: number
  seconds: number
  /** The server's STATE of the thread: "Waiting for table metadata lock" when another session holds the table. */
  state: string
  table: Pick<TableInfo, 'database' | 'name'>
  bytes: number
}

/** The replica user's other sessions running one of KeyBuilds' statements on a table of `databases`. */
async function earlierBuilds(replica: Connection, databases: string[]): Promise<EarlierBuild[]> {
  if (databases.length === 0) return []
  const rows = (await replica.query(
    `SELECT p.ID AS id, p.TIME AS seconds, p.STATE AS state, p.INFO AS info FROM information_schema.PROCESSLIST p
      WHERE p.ID <> CONNECTION_ID() AND p.USER = SUBSTRING_INDEX(USER(), '@', 1) AND p.COMMAND = 'Query'
        AND p.INFO LIKE 'ALTER TABLE %, ALGORITHM=DEFAULT' ORDER BY p.TIME DESC`,
  )) as Array<{id: number | bigint; seconds: number | bigint; state: string | null; info: string | Buffer | null}>
  const builds: EarlierBuild[] = []
  for (const row of rows) {
    const table = alteredTable(String(row.info ?? ''))
    if (table && databases.includes(table.database)) builds.push({id: Number(row.id), seconds: Number(row.seconds), state: row.state ?? '', table, bytes: 0})
  }
  if (builds.length === 0) return builds
  const sizes = (await replica.query(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS t, DATA_LENGTH AS bytes FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${placeholders(databases.length)})
      AND TABLE_NAME IN (${placeholders(builds.length)})`,
    [...databases, ...builds.map((b) => b.table.name)],
  )) as Array<{db: string; t: string; bytes: number | bigint | null}>
  for (const build of builds) {
    const size = sizes.find((s) => s.db === build.table.database && s.t === build.table.name)
    build.bytes = Number(size?.bytes ?? 0)
  }
  return builds
}

/** The table of `ALTER TABLE \`db\`.\`name\` ADD …` as quoteQualified writes it; undefined for any other text. */
export function alteredTable(info: string): Pick<TableInfo, 'database' | 'name'> | undefined {
  const prefix = 'ALTER TABLE '
  if (!info.startsWith(prefix)) return undefined
  const database = backtickName(info, prefix.length)
  if (!database || info[database.end] !== '.') return undefined
  const name = backtickName(info, database.end + 1)
  if (!name || !info.startsWith(' ADD KEY ', name.end)) return undefined
  return {database: database.name, name: name.name}
}

/** The identifier quoted with backticks at `at` (a doubled backtick is one), and where it ends. */
function backtickName(text: string, at: number): {name: string; end: number} | undefined {
  if (text[at] !== '`') return undefined
  let name = ''
  for (let i = at + 1; i < text.length; i++) {
    if (text[i] !== '`') name += text[i]
    else if (text[i + 1] === '`') name += text[i++]
    else return {name, end: i + 1}
  }
  return undefined
}
