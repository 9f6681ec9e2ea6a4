import {controlsShown} from '../../lib/validate.js'
import type {Connection} from 'mariadb'
import {DatainError, ExitCode} from '../../lib/errors.js'
import {sqlErrno} from '../../lib/sql.js'
import {REPLICATION_PROCEDURES} from './procedures.js'

/** An argument as datain passes it: what it is, for people, and whether it is text or a number. */
export interface ExpectedParameter {
  what: string
  kind: 'text' | 'number'
}

const text = (what: string): ExpectedParameter => ({what, kind: 'text'})
const number = (what: string): ExpectedParameter => ({what, kind: 'number'})
const CONNECTION = [text('source host'), text('user'), text('password'), number('port')]

/** What datain calls each of Azure's procedures with, in order (reference/azure.md §1.1, replication.ts). */
export const EXPECTED_SIGNATURES: Readonly<Record<string, readonly ExpectedParameter[]>> = {
  [REPLICATION_PROCEDURES.changeMaster]: [...CONNECTION, text('binary log file'), number('binary log position'), text('source CA (PEM)')],
  [REPLICATION_PROCEDURES.changeMasterWithGtid]: [...CONNECTION, text('GTID position'), text('source CA (PEM)')],
  [REPLICATION_PROCEDURES.start]: [],
  [REPLICATION_PROCEDURES.stop]: [],
  [REPLICATION_PROCEDURES.removeMaster]: [],
  [REPLICATION_PROCEDURES.skipCounter]: [],
}

/** A parameter as the replica declares it in information_schema.PARAMETERS. */
export interface DeclaredParameter {
  mode: string | null
  name: string | null
  dataType: string
}

/** The declared parameters by procedure name (lower case), or why the replica does not show them. */
export type SignatureReading = {visible: true; declared: Map<string, DeclaredParameter[]>} | {visible: false; why: string}

const NUMBER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'float', 'double'])
const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob'])

/**
 * Reads the parameters of `names` in `schema` from information_schema.PARAMETERS. MariaDB shows a
 * routine's parameters to whoever it shows the routine to (some privilege on it); a procedure without
 * parameters has no row there, so when not one row is visible while a procedure datain calls with
 * arguments is among `names`, the replica hides them (or the table cannot be read): not visible.
 */
export async function readProcedureSignatures(conn: Connection, schema: string, names: readonly string[]): Promise<SignatureReading> {
  if (names.length === 0) return {visible: true, declared: new Map()}
  const withArguments = names.filter((name) => (EXPECTED_SIGNATURES[name]?.length ?? 0) > 0)
  let rows: Array<{name: string; mode: string | null; param: string | null; dataType: string}>
  try {
    rows = await conn.query(
      'SELECT SPECIFIC_NAME AS name, PARAMETER_MODE AS mode, PARAMETER_NAME AS param, DATA_TYPE AS dataType FROM information_schema.PARAMETERS ' +
        `WHERE SPECIFIC_SCHEMA = ? AND ROUTINE_TYPE = 'PROCEDURE' AND SPECIFIC_NAME IN (${names.map(() => '?').join(', ')}) ORDER BY SPECIFIC_NAME, ORDINAL_POSITION`,
      [schema, ...names],
    )
  } catch (error) {
    const errno = sqlErrno(error)
    if (errno === undefined) throw error
    return {visible: false, why: `information_schema.PARAMETERS cannot be read (error ${errno})`}
  }
  if (rows.length === 0 && withArguments.length > 0) {
    return {visible: false, why: `information_schema.PARAMETERS shows no parameter of ${withArguments.map((n) => `${schema}.${n}`).join(', ')}`}
  }
  const declared = new Map<string, DeclaredParameter[]>(names.map((name) => [name.toLowerCase(), []]))
  for (const row of rows) declared.get(String(row.name).toLowerCase())?.push({mode: row.mode, name: row.param, dataType: String(row.dataType).toLowerCase()})
  return {visible: true, declared}
}

function kindOf(dataType: string): ExpectedParameter['kind'] | undefined {
  if (NUMBER_TYPES.has(dataType)) return 'number'
  if (TEXT_TYPES.has(dataType)) return 'text'
  return undefined
}

/** Whether the declared parameters take datain's arguments: as many, in the same order (text or number each), all IN. */
export function signatureMatches(expected: readonly ExpectedParameter[], declared: readonly DeclaredParameter[]): boolean {
  return (
    expected.length === declared.length &&
    expected.every((e, i) => {
      const d = declared[i]!
      return (d.mode === null || d.mode.toUpperCase() === 'IN') && kindOf(d.dataType) === e.kind
    })
  )
}

/** The procedures of `names` whose declaration does not take what datain passes. */
export function mismatchedProcedures(reading: SignatureReading, names: readonly string[]): string[] {
  if (!reading.visible) return []
  return names.filter((name) => {
    const expected = EXPECTED_SIGNATURES[name]
    return expected !== undefined && !signatureMatches(expected, reading.declared.get(name.toLowerCase()) ?? [])
  })
}

const plural = (n: number) => `${n} argument${n === 1 ? '' : 's'}`

/** A name or type as the server declares it, for a one-line message: control characters shown as `?`, at most 64 characters. */
function shown(value: string): string {
  const printable = controlsShown(value)
  return printable.length > 64 ? `${printable.slice(0, 63)}…` : printable
}

/** One sentence: what datain calls the procedure with, and what the replica declares. */
export function signatureText(schema: string, name: string, declared: readonly DeclaredParameter[]): string {
  const expected = EXPECTED_SIGNATURES[name] ?? []
  const ours = expected.length === 0 ? 'no argument' : `${plural(expected.length)} (${expected.map((e) => `${e.what}: ${e.kind}`).join(', ')})`
  const theirs =
    declared.length === 0
      ? 'no parameter'
      : `${declared.length} parameter${declared.length === 1 ? '' : 's'} (${declared.map((d) => [d.mode, d.name, d.dataType].filter(Boolean).map((v) => shown(String(v))).join(' ')).join(', ')})`
  return `datain calls ${schema}.${name} with ${ours}, and the replica declares ${theirs}`
}

/**
 * E_PROCEDURE_SIGNATURE (exit 1) when a procedure of `names` is declared with other parameters than
 * datain passes: calling it would put a value where the procedure expects another (a port as a
 * user name) or fail half-way. Goes on as before when the replica does not show the parameters.
 */
export async function assertProcedureSignatures(conn: Connection, schema: string, names: readonly string[]): Promise<SignatureReading> {
  const reading = await readProcedureSignatures(conn, schema, names)
  const wrong = mismatchedProcedures(reading, names)
  if (wrong.length > 0 && reading.visible) {
    throw new DatainError(
      `The replica declares Azure's replication procedure${wrong.length > 1 ? 's' : ''} with other parameters than datain calls ${wrong.length > 1 ? 'them' : 'it'} with: ` +
        wrong.map((name) => signatureText(schema, name, reading.declared.get(name.toLowerCase()) ?? [])).join('; ') +
        '. datain does not guess how to call a procedure it does not know, and changed nothing. ' +
        "Check that the replica is an Azure Database for MariaDB server and that nobody replaced Azure's procedures; 'datain init' reports this as the procedures check.",
      {code: 'E_PROCEDURE_SIGNATURE', exit: ExitCode.failed},
    )
  }
  return reading
}
