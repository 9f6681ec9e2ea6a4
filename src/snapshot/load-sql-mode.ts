/**
 * The sql_mode rows are loaded into the replica under, by either copy: no strict mode (a value the
 * source accepted is kept as it is), NO_AUTO_VALUE_ON_ZERO (an AUTO_INCREMENT column's 0 stays 0),
 * and ALLOW_INVALID_DATES: without it a date that a lax source kept ('2021-02-31') loads as
 * '0000-00-00' with only a warning.
 */
export const LOAD_SQL_MODE = 'NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES'

const DUMP_SQL_MODE = /^(\/\*!\d{5} SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE=)'NO_AUTO_VALUE_ON_ZERO'( \*\/;)$/

/** mariadb-dump's statement that sets the load's sql_mode, with LOAD_SQL_MODE instead; undefined for any other. */
export function withLoadSqlMode(statement: string): Buffer | undefined {
  const set = DUMP_SQL_MODE.exec(statement)
  return set ? Buffer.from(`${set[1]}'${LOAD_SQL_MODE}'${set[2]}\n`, 'latin1') : undefined
}
