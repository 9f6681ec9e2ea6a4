/**
 * Replication positions and how far apart they are: MariaDB GTID positions compared domain by
 * domain, binlog file/position pairs compared by file sequence number. Pure functions, no server.
 */

/** One GTID of a position: `domain-server-sequence`. */
export interface Gtid {
  domain: number
  server: number
  sequence: bigint
}

/** A binlog coordinate: the file and the byte offset in it. */
export interface BinlogCoordinate {
  file: string
  position: number
}

const GTID = /^(\d+)-(\d+)-(\d+)$/

/**
 * The GTIDs of a position such as `@@gtid_binlog_pos`, `@@gtid_slave_pos` or `Gtid_IO_Pos`
 * (`0-1-100,1-2-7`), by domain. Empty text is the empty position. Throws on anything else: a
 * position datain cannot read must not pass for "caught up".
 */
export function parseGtidPosition(text: string): Map<number, Gtid> {
  const position = new Map<number, Gtid>()
  for (const part of text.split(',')) {
    const item = part.trim()
    if (item === '') continue
    const match = GTID.exec(item)
    if (!match) throw new Error(`not a GTID position: '${text}'`)
    const gtid = {domain: Number(match[1]), server: Number(match[2]), sequence: BigInt(match[3]!)}
    const earlier = position.get(gtid.domain)
    // A position holds one GTID per domain; should a value list two, the later sequence is where it stands.
    if (!earlier || earlier.sequence < gtid.sequence) position.set(gtid.domain, gtid)
  }
  return position
}

/** The canonical text of a position: domains in order, comma-separated. */
export function formatGtidPosition(position: ReadonlyMap<number, Gtid>): string {
  return [...position.values()]
    .sort((a, b) => a.domain - b.domain)
    .map((g) => `${g.domain}-${g.server}-${g.sequence}`)
    .join(',')
}

/** How many transactions of one domain `reached` still lacks to reach `target`. */
export interface DomainGap {
  domain: number
  /** The sequence number reached in that domain; 0n when the domain has not been seen at all. */
  reached: bigint
  target: bigint
  missing: bigint
}

/**
 * The domains in which `reached` is behind `target`. Sequence numbers grow within a domain (whichever
 * server wrote them), which is how MariaDB itself decides that a position includes a GTID
 * (MASTER_GTID_WAIT compares the same way); domains only `reached` has do not matter.
 */
export function gtidGaps(reached: string, target: string): DomainGap[] {
  const have = parseGtidPosition(reached)
  const gaps: DomainGap[] = []
  for (const want of parseGtidPosition(target).values()) {
    const got = have.get(want.domain)?.sequence ?? 0n
    if (got < want.sequence) gaps.push({domain: want.domain, reached: got, target: want.sequence, missing: want.sequence - got})
  }
  return gaps.sort((a, b) => a.domain - b.domain)
}

/** Whether `reached` includes every GTID of `target`. */
export function gtidIncludes(reached: string, target: string): boolean {
  return gtidGaps(reached, target).length === 0
}

/** Whether two positions name the same GTID in every domain. */
export function sameGtidPosition(a: string, b: string): boolean {
  return gtidIncludes(a, b) && gtidIncludes(b, a)
}

/** `binlog.000012` → {base: 'binlog', index: 12}; the index is undefined when the name has no numeric extension. */
export function binlogFileIndex(file: string): {base: string; index: number | undefined} {
  const match = /^(.*)\.(\d+)$/.exec(file)
  return match ? {base: match[1]!, index: Number(match[2])} : {base: file, index: undefined}
}

/**
 * Orders two binlog coordinates: negative when `a` comes before `b`. Files of one server are
 * `base.NNNNNN` with a growing number; a number wider than six digits (file 1000000 and on) still
 * compares right, which comparing the names as text would not.
 */
export function compareCoordinates(a: BinlogCoordinate, b: BinlogCoordinate): number {
  const fa = binlogFileIndex(a.file)
  const fb = binlogFileIndex(b.file)
  if (fa.base === fb.base && fa.index !== undefined && fb.index !== undefined && fa.index !== fb.index) return fa.index - fb.index
  if (a.file !== b.file) return a.file < b.file ? -1 : 1
  return a.position - b.position
}

/** How far coordinate `reached` is behind `target`: bytes when both are in one file, else the files in between. */
export function coordinateGap(reached: BinlogCoordinate, target: BinlogCoordinate): {behind: boolean; bytes?: number; files?: number} {
  if (compareCoordinates(reached, target) >= 0) return {behind: false}
  if (reached.file === target.file) return {behind: true, bytes: target.position - reached.position}
  const fr = binlogFileIndex(reached.file)
  const ft = binlogFileIndex(target.file)
  const files = fr.base === ft.base && fr.index !== undefined && ft.index !== undefined ? ft.index - fr.index : undefined
  return {behind: true, files}
}
