import {NO_RUN_OPTIONS, type RunOptions} from '../state/run-options.js'
import type {Settings} from '../state/schema.js'
import type {PreflightSettings} from './check.js'

export function preflightSettings(settings: Settings, run: RunOptions = NO_RUN_OPTIONS): PreflightSettings {
  return {
    target: settings.target,
    databases: settings.databases,
    gtid: settings.gtid,
    replicationUser: settings.replicationUser,
    unfilteredSubset: settings.unfilteredSubset,
    replaceDatabases: run.replaceDatabases,
    takeOverReplica: run.takeOverReplica,
    sourcePort: settings.source.port,
    sourceSsl: settings.source.ssl,
    sourceCa: settings.source.sslCa !== undefined,
    replicaSsl: settings.replica.ssl,
    replicaTlsVerify: settings.replica.tlsVerify,
    useArm: settings.azure.useArm,
    manageFirewall: settings.azure.manageFirewall,
    sourcePublicHost: settings.source.publicHost,
  }
}
