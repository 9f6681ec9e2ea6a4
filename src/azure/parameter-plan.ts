import {armServerUrl} from './arm.js'
import type {PlannedAction} from '../lib/planned-action.js'
import type {ParameterContext} from './server-parameters.js'

/**
 * The planned change of a replica server parameter: the ARM PUT that `ensureServerParameter` makes
 * (only when the value differs), or with --no-arm the check it makes instead.
 */
export function parameterAction(ctx: Pick<ParameterContext, 'arm'>, name: string, value: string, why: string): PlannedAction {
  if (!ctx.arm) return {on: 'replica', kind: 'check', text: `SELECT @@global.${name} -- must be '${value}' (--no-arm: set by hand) ${why}`}
  const {target} = ctx.arm
  const url = `${armServerUrl(target)}/configurations/${name}?api-version=2018-06-01`
  return {
    on: 'azure',
    kind: 'arm',
    text: `PUT ${url} ${JSON.stringify({properties: {value, source: 'user-override'}})}  -- configurations.beginCreateOrUpdateAndWait, unless already '${value}'; ${why}`,
  }
}
