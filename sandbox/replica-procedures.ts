/**
 * Azure's Data-in Replication procedures, as the emulated replica has them. On Azure they run with
 * the rights of a hidden superuser, so that the server admin (who lacks SUPER and REPLICATION SLAVE
 * ADMIN) can point the replica at a source. Behaviour follows reference/azure.md §1.1: `ssl_ca` is
 * the CA's PEM *text* ('' = no TLS), the GTID variant takes a `gtid_slave_pos` value.
 */

/** The definer of the procedures: Azure's own superuser, locked so nobody logs in as it. */
export const PROCEDURE_DEFINER = '`azure_superuser`@`localhost`'

export type ProcedureSchema = 'mysql' | 'mariadb'

/** What az_replication_remove_master runs: RESET SLAVE ALL (no SHOW SLAVE STATUS row) or RESET SLAVE (a row, host kept, threads stopped). */
export type RemoveMaster = 'reset-slave-all' | 'reset-slave'

const REMOVE_MASTER_BODY: Record<RemoveMaster, string> = {
  'reset-slave-all': 'BEGIN STOP SLAVE; RESET SLAVE ALL; END',
  'reset-slave': 'BEGIN STOP SLAVE; RESET SLAVE; END',
}

export const PROCEDURE_NAMES = [
  'az_replication_change_master',
  'az_replication_change_master_with_gtid',
  'az_replication_start',
  'az_replication_stop',
  'az_replication_remove_master',
  'az_replication_skip_counter',
] as const

// CHANGE MASTER TO takes no variables, and MASTER_SSL_CA takes a file, not PEM text: both the CA
// file and the statement are built as text and run through PREPARE/EXECUTE inside the procedure.
const runStatement = (expression: string) => `
  SET @az_stmt = ${expression};
  PREPARE az_stmt FROM @az_stmt;
  SET @az_stmt = NULL;
  EXECUTE az_stmt;
  DEALLOCATE PREPARE az_stmt;`

function changeMasterBody(positionClause: string, before = ''): string {
  return `BEGIN
  DECLARE ca_file VARCHAR(1024) DEFAULT '';
  IF master_ssl_ca IS NOT NULL AND master_ssl_ca <> '' THEN
    SET ca_file = CONCAT(@@global.secure_file_priv, 'az_master_ca_', REPLACE(UUID(), '-', ''), '.pem');
    ${runStatement(`CONCAT('SELECT ', QUOTE(master_ssl_ca), ' INTO DUMPFILE ', QUOTE(ca_file))`)}
  END IF;
  ${before}
  ${runStatement(`CONCAT('CHANGE MASTER TO MASTER_HOST = ', QUOTE(master_host),
    ', MASTER_USER = ', QUOTE(master_user),
    ', MASTER_PASSWORD = ', QUOTE(master_password),
    ', MASTER_PORT = ', CAST(master_port AS UNSIGNED),
    IF(ca_file = '', ', MASTER_SSL = 0',
       CONCAT(', MASTER_SSL = 1, MASTER_SSL_CA = ', QUOTE(ca_file), ', MASTER_SSL_VERIFY_SERVER_CERT = 1')),
    ${positionClause})`)}
END`
}

/** The statements (one per string, no DELIMITER) that install the procedures in `schema`. */
export function replicaProcedureStatements(schema: ProcedureSchema = 'mysql', options: {removeMaster?: RemoveMaster} = {}): string[] {
  const s = '`' + schema + '`'
  const create = (name: string, params: string, body: string) => [
    `DROP PROCEDURE IF EXISTS ${s}.${name}`,
    `CREATE DEFINER=${PROCEDURE_DEFINER} PROCEDURE ${s}.${name}(${params}) SQL SECURITY DEFINER ${body}`,
  ]
  const connection = `IN master_host VARCHAR(255), IN master_user VARCHAR(128), IN master_password VARCHAR(255), IN master_port INT`
  return [
    `CREATE DATABASE IF NOT EXISTS ${s}`,
    ...create(
      'az_replication_change_master',
      `${connection}, IN master_log_file VARCHAR(255), IN master_log_pos BIGINT UNSIGNED, IN master_ssl_ca TEXT`,
      changeMasterBody(
        `', MASTER_LOG_FILE = ', QUOTE(master_log_file), ', MASTER_LOG_POS = ', CAST(master_log_pos AS UNSIGNED), ', MASTER_USE_GTID = no'`,
      ),
    ),
    ...create(
      'az_replication_change_master_with_gtid',
      `${connection}, IN master_gtid_pos VARCHAR(4096), IN master_ssl_ca TEXT`,
      changeMasterBody(
        `', MASTER_USE_GTID = slave_pos'`,
        runStatement(`CONCAT('SET GLOBAL gtid_slave_pos = ', QUOTE(master_gtid_pos))`),
      ),
    ),
    ...create('az_replication_start', '', 'BEGIN START SLAVE; END'),
    ...create('az_replication_stop', '', 'BEGIN STOP SLAVE; END'),
    ...create('az_replication_remove_master', '', REMOVE_MASTER_BODY[options.removeMaster ?? 'reset-slave-all']),
    ...create('az_replication_skip_counter', '', 'BEGIN STOP SLAVE; SET GLOBAL sql_slave_skip_counter = 1; START SLAVE; END'),
  ]
}
