import {armCall, type ArmAccess} from '../../azure/arm.js'
import {parameterAction} from '../../azure/parameter-plan.js'
import {ensureServerParameter, restoreServerParameter} from '../../azure/server-parameters.js'
import type {Settings} from '../../state/schema.js'
import type {ParameterDriver} from '../target.js'

/** Server parameters through ARM's configurations; with --no-arm only read and checked (set by hand). */
export function azureParameters(settings: Settings, arm: ArmAccess | undefined): ParameterDriver {
  return {
    ensure: (call, name, value, why) => ensureServerParameter({settings, arm, ...call}, name, value, why),
    restore: (call, change) => restoreServerParameter({settings, arm, ...call}, change),
    async current(name) {
      if (!arm) return null
      const {client, target} = arm
      const configuration = await armCall(target, `read the server parameter ${name}`, () => client.configurations.get(target.resourceGroup, target.server, name))
      return configuration.value ?? null
    },
    plan: (name, value, why) => parameterAction({arm}, name, value, why),
  }
}
