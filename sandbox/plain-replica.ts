import path from 'node:path'
import type {CertificateAuthority, Certificate} from './tls.js'
import {MariaDbServer} from './mariadb-server.js'

/** The account a DBA creates for datain on a replica they administer: not root, no `@server` in its name. */
export const PLAIN_REPLICA_ADMIN = 'datain_replica_admin'

/**
 * What a DBA grants a tool that sets up replication on MariaDB 10.11, without SUPER (split since
 * 10.5): the data privileges the Azure admin has, plus
 * - REPLICATION SLAVE ADMIN: CHANGE MASTER TO, START/STOP SLAVE, RESET SLAVE ALL, and SET GLOBAL of
 *   gtid_slave_pos, sql_slave_skip_counter, replicate_wild_ignore_table, sync_master_info, sync_relay_log_info;
 * - BINLOG ADMIN: SET GLOBAL log_bin_trust_function_creators;
 * - SLAVE MONITOR: SHOW SLAVE STATUS; BINLOG MONITOR: SHOW BINARY LOGS / MASTER STATUS.
 * Not SET GLOBAL sql_slave_skip_counter: 10.11 still asks SUPER for it (the sandbox's `superAdmin`).
 * test/sandbox/plain-replica.test.ts runs every statement datain runs as this account.
 */
export const plainReplicaAdminGrants = (user: string) => [
  `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, SHOW DATABASES,
     CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR, CREATE VIEW,
     SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER,
     REPLICATION SLAVE ADMIN, BINLOG ADMIN ON *.* TO ${user} WITH GRANT OPTION`,
]

export interface PlainReplicaOptions {
  dir: string
  ca: CertificateAuthority
  cert: Certificate
  serverId: number
  lowerCaseTableNames?: 0 | 1 | 2
}

/**
 * A MariaDB server the DBA administers, as `--target mariadb` meets it: binary log on, TLS offered
 * but not required (a DBA's server often accepts both), no gateway, no procedures, no ARM.
 */
export async function startPlainReplica(options: PlainReplicaOptions): Promise<MariaDbServer> {
  return MariaDbServer.start({
    dir: path.join(options.dir, 'replica'),
    serverId: options.serverId,
    // As the Azure replica has it, so that a test moves between targets without a schema check changing its verdict.
    lowerCaseTableNames: options.lowerCaseTableNames ?? 1,
    tls: {ca: options.ca.cert, cert: options.cert.cert, key: options.cert.key},
  })
}
