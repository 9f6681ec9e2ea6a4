import {isRestError} from '@azure/core-rest-pipeline'
import type {MariaDBManagementClient} from '@azure/arm-mariadb'
import type {Connection} from 'mariadb'
import type {Settings} from '../state/schema.js'
import {armCall, armError, type AzureTarget} from './arm.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {sameValue, type ParameterChange} from '../state/parameter-change.js'

/** What the function needs of a step's context; with `signal`, an abort ends a pending ARM call at once. */
export interface ParameterContext {
  settings: Settings
  replica(): Promise<Connection>
  /** Absent with --no-arm. */
  arm?: {client: MariaDBManagementClient; target: AzureTarget}
  signal?: AbortSignal
}

/**
 * Makes the replica's server parameter `name` equal `value`. With ARM: reads the configuration and,
 * unless it already has the value, sets it through `configurations.beginCreateOrUpdateAndWait`.
 * With --no-arm datain changes nothing: it reads the replica's variable and, if it differs, stops
 * with a DatainError (exit 1) that says how to set it by hand. `why` completes the messages ("so
 * that functions and triggers can be restored").
 */
export async function ensureServerParameter(ctx: ParameterContext, name: string, value: string, why?: string): Promise<ParameterChange> {
  if (!ctx.arm) {
    const current = await replicaVariable(ctx, name)
    if (current !== null && sameValue(current, value)) return {name, previous: current, value, changedByDatain: false}
    throw new DatainError(
      `The replica's server parameter ${name} is ${current ?? 'not set'}; datain needs it to be ${value}${why ? ` ${why}` : ''}, ` +
        `and with --no-arm it does not change server parameters itself. Set ${name} to ${value} ${setByHand(ctx, name, value)}; then run 'datain start' again.`,
      {code: 'E_SERVER_PARAMETER', exit: ExitCode.failed, suggestions: [setByHandCommand(ctx, name, value)]},
    )
  }

  const {client, target} = ctx.arm
  const previous = await readArmParameter(ctx.arm, name, why, ctx.signal)
  if (previous !== null && sameValue(previous, value)) return {name, previous, value, changedByDatain: false}
  await armCall(target, `set the server parameter ${name} to ${value}`, () =>
    client.configurations.beginCreateOrUpdateAndWait(target.resourceGroup, target.server, name, {value, source: 'user-override'}, {abortSignal: ctx.signal}),
  )
  return {name, previous, value, changedByDatain: true}
}

/**
 * Puts back what {@link ensureServerParameter} changed (`changedByDatain`), if the parameter still
 * has datain's value: a value someone set since is theirs. Returns whether it changed anything.
 */
export async function restoreServerParameter(ctx: ParameterContext, change: ParameterChange): Promise<boolean> {
  if (!change.changedByDatain || change.previous === null || !ctx.arm) return false
  const {client, target} = ctx.arm
  const current = await readArmParameter(ctx.arm, change.name, undefined, ctx.signal)
  if (current === null || !sameValue(current, change.value) || sameValue(current, change.previous)) return false
  await armCall(target, `set the server parameter ${change.name} back to ${change.previous}`, () =>
    client.configurations.beginCreateOrUpdateAndWait(
      target.resourceGroup,
      target.server,
      change.name,
      {value: change.previous!, source: 'user-override'},
      {abortSignal: ctx.signal},
    ),
  )
  return true
}


async function readArmParameter(arm: NonNullable<ParameterContext['arm']>, name: string, why?: string, signal?: AbortSignal): Promise<string | null> {
  try {
    const configuration = await arm.client.configurations.get(arm.target.resourceGroup, arm.target.server, name, {abortSignal: signal})
    return configuration.value ?? null
  } catch (error) {
    if (isRestError(error) && error.statusCode === 404) {
      throw new DatainError(
        `The replica's server '${arm.target.server}' offers no server parameter ${name} through Azure Resource Manager${why ? `, which datain needs ${why}` : ''}.`,
        {code: 'E_SERVER_PARAMETER', exit: ExitCode.failed, cause: error},
      )
    }
    throw armError(arm.target, `read the server parameter ${name}`, error)
  }
}

async function replicaVariable(ctx: ParameterContext, name: string): Promise<string | null> {
  const replica = await ctx.replica()
  const rows: Array<{Value: string | null}> = await replica.query('SHOW GLOBAL VARIABLES WHERE Variable_name = ?', [name])
  return rows[0]?.Value ?? null
}

function setByHandCommand(ctx: ParameterContext, name: string, value: string): string {
  const group = ctx.settings.azure.resourceGroup ?? '<resource-group>'
  const server = ctx.settings.azure.server ?? '<server>'
  return `az mariadb server configuration set --resource-group ${group} --server-name ${server} --name ${name} --value ${value}`
}

function setByHand(ctx: ParameterContext, name: string, value: string): string {
  return `in the Azure portal (the server → Server parameters → ${name} = ${value} → Save), or with: ${setByHandCommand(ctx, name, value)}`
}
