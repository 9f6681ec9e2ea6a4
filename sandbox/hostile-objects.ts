/**
 * Objects a hostile source account could write: routines, triggers, events and views whose bodies
 * mix every quote, comment and delimiter form with text that looks like SQL (`SET GLOBAL`,
 * `DEFINER=`, `DELIMITER ;;`, `/*!` inside strings), under the sql_modes that change how a body
 * is read (ANSI_QUOTES, NO_BACKSLASH_ESCAPES). Every statement is valid: the source accepts it, and
 * datain must create it on the replica with the same body, byte for byte, and run nothing else.
 */
import {quoteIdentifier} from '../src/lib/sql.js'

export interface HostileObject {
  kind: 'PROCEDURE' | 'FUNCTION' | 'TRIGGER' | 'EVENT' | 'VIEW'
  name: string
  /** The session sql_mode the object is created under (it is stored with routines, triggers, events). */
  sqlMode: string
  /** One statement, run as it is in the object's database. */
  sql: string
}

/** Text that a line- or regex-based reader would take for code, a delimiter, a comment or a quote. */
const NASTY = [
  ';;',
  '//',
  '$$',
  ';',
  'DELIMITER ;;',
  'DELIMITER ;',
  'SET GLOBAL read_only = ON;',
  '\nSET GLOBAL general_log = ON;\n',
  'SET @@GLOBAL.gtid_slave_pos = "";',
  'DEFINER=`root`@`localhost`',
  "DEFINER='x'@'%' SQL SECURITY DEFINER",
  '/*!50003 CREATE DATABASE chaos_pwned */',
  '/*!',
  '*/',
  '/*',
  '-- ',
  '#',
  "'",
  "''",
  '"',
  '`',
  '\\',
  "\\'",
  '\n',
  '\r\n',
  '\t',
  'END;;',
  'END IF;',
  'BEGIN',
  "CREATE USER 'chaos_pwned'@'%';",
  'GRANT ALL ON *.* TO chaos_pwned;',
  "LOAD DATA LOCAL INFILE '/proc/self/environ' INTO TABLE t;",
  'ON COMPLETION PRESERVE ENABLE',
  'ü✓',
  '漢字',
  '🦆',
  '\u00a0',
]

const MODES = ['NO_AUTO_VALUE_ON_ZERO', 'ANSI_QUOTES', 'NO_BACKSLASH_ESCAPES', 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES']

export function hostileObjects(random: () => number, count: number, table: string): HostileObject[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
  const text = (parts = 1 + Math.floor(random() * 5)) => Array.from({length: parts}, () => pick(NASTY)).join(pick(['', ' ', '\n']))
  const objects: HostileObject[] = []
  const kinds: HostileObject['kind'][] = ['PROCEDURE', 'FUNCTION', 'TRIGGER', 'EVENT', 'VIEW']
  for (let i = 0; i < count; i++) {
    const kind = kinds[i % kinds.length]!
    const sqlMode = pick(MODES)
    const noBackslash = sqlMode.includes('NO_BACKSLASH_ESCAPES')
    const ansi = sqlMode.includes('ANSI_QUOTES')
    const literal = (value: string) => {
      const body = noBackslash ? value.replaceAll("'", "''") : value.replaceAll('\\', '\\\\').replaceAll("'", pick(["''", "\\'"]))
      // Double quotes are strings only without ANSI_QUOTES.
      if (!ansi && random() < 0.3) {
        const dq = noBackslash ? value.replaceAll('"', '""') : value.replaceAll('\\', '\\\\').replaceAll('"', '""')
        return `"${dq}"`
      }
      return `'${body}'`
    }
    const comment = () =>
      pick([
        () => `/* ${text().replaceAll('*/', '* /')} */`,
        () => `-- ${text().replace(/[\r\n]+/g, ' ')}\n`,
        () => `# ${text().replace(/[\r\n]+/g, ' ')}\n`,
      ])()
    // Names are utf8mb3 in the data dictionary: no character outside the BMP (error 1300).
    const nameOf = (prefix: string) => `${prefix} ${text(1).replace(/[\r\n\\/]+|[\u{10000}-\u{10ffff}]/gu, '').trim()}`.slice(0, 60).trimEnd()
    const name = nameOf(`${kind.toLowerCase()} ${i}`)
    const statements = () =>
      Array.from({length: 1 + Math.floor(random() * 4)}, () =>
        pick([
          () => `SET @v = CONCAT(IFNULL(@v, ''), ${literal(text())});`,
          () => `${comment()} SET @w = ${literal(text())};`,
          () => `IF @v = ${literal(text())} THEN SET GLOBAL read_only = ON; END IF;`,
          () => `SELECT ${literal(text())} INTO @x;`,
        ])(),
      ).join(pick(['\n', ' ', '\n\n', '\r\n']))
    const id = quoteIdentifier(name)
    const definer = pick(['', 'DEFINER = CURRENT_USER ', 'DEFINER=`datain_admin`@`%` ', "DEFINER='nobody here'@'%' "])
    let sql: string
    switch (kind) {
      case 'PROCEDURE':
        sql = `CREATE ${definer}PROCEDURE ${id}(IN ${quoteIdentifier(`p ${i};;`)} TEXT) COMMENT ${literal(text())}\nBEGIN\n${statements()}\nEND`
        break
      case 'FUNCTION':
        sql = `CREATE ${definer}FUNCTION ${id}() RETURNS TEXT DETERMINISTIC\nBEGIN ${comment()}\n${statements()}\nRETURN ${literal(text())};\nEND`
        break
      case 'TRIGGER':
        sql = `CREATE ${definer}TRIGGER ${id} BEFORE ${pick(['INSERT', 'UPDATE'])} ON ${quoteIdentifier(table)} FOR EACH ROW\nBEGIN\n${statements()}\nEND`
        break
      case 'EVENT':
        sql =
          `CREATE ${definer}EVENT ${id} ON SCHEDULE EVERY 1 DAY STARTS '2031-01-01 00:00:00' ON COMPLETION PRESERVE ${pick(['ENABLE', 'DISABLE'])} ` +
          `COMMENT ${literal(text())} DO\nBEGIN\n${statements()}\nEND`
        break
      case 'VIEW':
        sql = `CREATE ${definer}VIEW ${id} AS SELECT ${literal(text())} AS ${quoteIdentifier(nameOf(`c ${i}`))} ${comment()}`
        break
    }
    objects.push({kind, name, sqlMode, sql})
  }
  return objects
}

/** Each object's body as the server stores it (hex, so that every byte counts), by kind and name. */
export const BODY_QUERIES: Array<{kind: string; sql: string}> = [
  {kind: 'routine', sql: 'SELECT CONCAT(ROUTINE_TYPE, " ", ROUTINE_NAME) AS k, HEX(ROUTINE_DEFINITION) AS body, SQL_MODE AS mode FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?'},
  {kind: 'trigger', sql: 'SELECT TRIGGER_NAME AS k, HEX(ACTION_STATEMENT) AS body, SQL_MODE AS mode FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?'},
  {kind: 'event', sql: 'SELECT EVENT_NAME AS k, HEX(EVENT_DEFINITION) AS body, SQL_MODE AS mode FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?'},
  {kind: 'view', sql: "SELECT TABLE_NAME AS k, HEX(VIEW_DEFINITION) AS body, '' AS mode FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?"},
]
