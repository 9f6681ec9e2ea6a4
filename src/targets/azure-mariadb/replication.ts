import type {Connection} from 'mariadb'
import {MASK} from '../../lib/redact.js'
import type {LinkSpec, PlannedLinkSpec, ReplicationAction, ReplicationControls, ReplicationDriver, ReplicationTexts} from '../target.js'
import {assertStatementLogsOff} from '../statement-secrecy.js'
import {sourceCaText} from './source-ca.js'
import {assertProcedureSignatures} from './procedure-signatures.js'
import {callProcedure, procedureCallText, REPLICATION_PROCEDURES, replicationProcedureSchema} from './procedures.js'

const GENERAL_LOG_WORDS = {
  written: "the values of a prepared statement's parameters",
  secretName: "replication user's password that datain passes to Azure's procedure",
  howToTurnOff: 'Azure portal: the server, Server parameters, general_log = OFF',
  suggestion: 'Set the server parameter general_log to OFF, then run datain start again',
}

/** Azure's schema for its procedures when the replica cannot be asked where they are. */
const DEFAULT_SCHEMA = 'mysql'

/** The procedure behind each control; linking has two, by replication mode. */
function procedureFor(action: ReplicationAction, gtid: boolean): string {
  switch (action) {
    case 'link':
      return gtid ? REPLICATION_PROCEDURES.changeMasterWithGtid : REPLICATION_PROCEDURES.changeMaster
    case 'start':
      return REPLICATION_PROCEDURES.start
    case 'stop':
      return REPLICATION_PROCEDURES.stop
    case 'remove':
      return REPLICATION_PROCEDURES.removeMaster
    case 'skip':
      return REPLICATION_PROCEDURES.skipCounter
  }
}

/** Azure's az_replication_* procedures (reference/azure.md §1), found by name wherever the replica keeps them. */
export function azureReplication(options: {gtid: boolean}): ReplicationDriver {
  return {
    async open(replica, actions) {
      const names = actions.map((action) => procedureFor(action, options.gtid))
      const schema = await replicationProcedureSchema(replica, names)
      // Before anything runs: a procedure declared otherwise would take the arguments in the wrong places.
      await assertProcedureSignatures(replica, schema, names)
      return controls(replica, schema, options.gtid)
    },
    planned: (where) => texts(where ?? DEFAULT_SCHEMA, options.gtid),
  }
}

function texts(schema: string, gtid: boolean): ReplicationTexts {
  return {
    where: schema,
    name: (action) => `${schema}.${procedureFor(action, gtid)}`,
    statement: (action) => procedureCallText(schema, procedureFor(action, gtid), []),
    linkSecrecy: 'every argument a bound parameter (?), the password never in the statement text',
    command: (action) => `CALL ${schema}.${procedureFor(action, gtid)}`,
    linkStatement: (spec: PlannedLinkSpec) =>
      procedureCallText(schema, procedureFor('link', spec.mode === 'gtid'), [spec.host, spec.user, MASK, spec.port, ...spec.position, spec.caLabel]),
  }
}

function controls(replica: Connection, schema: string, gtid: boolean): ReplicationControls {
  const call = (action: ReplicationAction) => callProcedure(replica, schema, procedureFor(action, gtid), [])
  return {
    ...texts(schema, gtid),
    // MariaDB would write the bound password into the general log: refused, whatever the flags.
    assertPasswordStaysSecret: () => assertStatementLogsOff(replica, GENERAL_LOG_WORDS),
    async link(spec: LinkSpec, password: string) {
      const position = spec.position.mode === 'gtid' ? [spec.position.gtid] : [spec.position.file, spec.position.position]
      const caPem = await sourceCaText(spec.sourceCaFile)
      await callProcedure(replica, schema, procedureFor('link', spec.position.mode === 'gtid'), [spec.host, spec.user, password, spec.port, ...position, caPem], {
        secret: true,
      })
    },
    start: () => call('start'),
    stop: () => call('stop'),
    remove: () => call('remove'),
    skip: () => call('skip'),
  }
}
