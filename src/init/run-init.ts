import {readFile} from 'node:fs/promises'
import {describeTakeOver} from '../engine/lock.js'
import {ownWork} from '../engine/own-work.js'
import {openProfile} from '../engine/profile-store.js'
import {type Settings, STATE_VERSION} from '../engine/state-schema.js'
import type {AzureTarget} from '../lib/azure.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import type {ServerAddress} from '../lib/mariadb.js'
import {requirePassword} from '../lib/prompt.js'
import {countByStatus} from '../lib/report.js'
import type {CheckResult, CheckStatus, PreflightSettings} from '../preflight/check.js'
import {openPreflight} from '../preflight/context.js'
import {PREFLIGHT_CHECKS} from '../preflight/index.js'
import {preflightPassed, runChecks} from '../preflight/run.js'
import {type InitFlags, settingsChanges, settingsFromFlags} from './settings-from-flags.js'

export interface InitResult {
  profile: string
  /** What happened to the profile's settings. */
  recorded: 'created' | 'updated' | 'unchanged'
  settings: Settings
  passed: boolean
  counts: Record<CheckStatus, number>
  checks: CheckResult[]
  /** The address Azure's gateway refused, when it did: `datain start` adds a rule for it. */
  refusedClientIp?: string
}

export interface InitOptions {
  home: string
  profile: string
  flags: InitFlags
  note(message: string): void
}

/** `datain init`: records the profile, then runs every preflight check. Changes nothing on any server. */
export async function runInit({home, profile, flags, note}: InitOptions): Promise<InitResult> {
  const store = openProfile(home, profile)
  const lock = await store.lock('init')
  if (lock.takenOver) note(`datain ${describeTakeOver(lock.takenOver)}.`)
  try {
    const existing = (await store.exists()) ? await store.readSettings() : undefined
    const input = await settingsFromFlags(flags, existing?.createdAt ?? new Date().toISOString())
    const changes = existing ? settingsChanges(existing, input) : []
    if (existing && changes.length > 0 && !flags.force) {
      throw new DatainError(
        `The profile '${profile}' exists and this init would change it:\n  ${changes.join('\n  ')}\n` +
          `Run again with --force to record the new settings, or use another --profile.`,
        {code: 'E_PROFILE_EXISTS', exit: ExitCode.usage},
      )
    }
    const sourcePassword = await requirePassword('DATAIN_SOURCE_PASSWORD', `the source user '${input.source.user}'`)
    const replicaPassword = await requirePassword('DATAIN_REPLICA_PASSWORD', `the replica user '${input.replica.user}'`)

    const planned = {...input, version: STATE_VERSION, updatedAt: input.createdAt} satisfies Settings
    const checkpoint = await store.readCheckpoint()
    // Connect before recording: settings that reach no server (a mistyped port) are not kept.
    const preflight = await openPreflight({
      settings: preflightSettings(planned),
      source: await sourceAddress(planned, sourcePassword),
      replica: await replicaAddress(planned, replicaPassword),
      azure: azureTarget(planned),
      own: ownWork(checkpoint),
    })
    let checks: CheckResult[]
    let settings: Settings
    const recorded = !existing ? 'created' : changes.length > 0 ? 'updated' : 'unchanged'
    try {
      settings = await store.writeSettings(input)
      await store.journal('init', {recorded, changes})
      checks = await runChecks(PREFLIGHT_CHECKS, preflight)
    } finally {
      await preflight.close()
    }
    const counts = countByStatus(checks)
    const passed = preflightPassed(checks)
    await store.journal('preflight', {passed, counts, failed: checks.filter((c) => c.status === 'fail').map((c) => c.id)})
    return {profile, recorded, settings, passed, counts, checks, refusedClientIp: preflight.refusedClientIp}
  } finally {
    await lock.release()
  }
}

export function preflightSettings(settings: Settings): PreflightSettings {
  return {
    databases: settings.databases,
    gtid: settings.gtid,
    replicationUser: settings.replicationUser,
    force: settings.force,
    useArm: settings.azure.useArm,
    manageFirewall: settings.azure.manageFirewall,
    sourceTls: settings.source.sslCa !== undefined,
    sourcePublicHost: settings.source.publicHost,
  }
}

export function azureTarget(settings: Settings): AzureTarget | undefined {
  const {useArm, subscription, resourceGroup, server, armEndpoint} = settings.azure
  if (!useArm || !subscription || !resourceGroup || !server) return undefined
  return {subscription, resourceGroup, server, endpoint: armEndpoint ?? process.env.DATAIN_ARM_ENDPOINT}
}

export async function sourceAddress(settings: Settings, password: string): Promise<ServerAddress> {
  const {host, port, user, sslCa} = settings.source
  return {host, port, user, password, tls: sslCa ? {ca: await readFile(sslCa, 'utf8'), verify: true} : undefined}
}

export async function replicaAddress(settings: Settings, password: string): Promise<ServerAddress> {
  const {host, port, user, sslCa, tlsVerify} = settings.replica
  return {host, port, user, password, tls: {ca: sslCa ? await readFile(sslCa, 'utf8') : undefined, verify: tlsVerify}}
}
