import type {Configuration} from '@azure/arm-mariadb'
import {isRestError} from '@azure/core-rest-pipeline'
import {armError} from '../../azure/arm.js'
import type {PreflightContext} from '../check.js'

/** A server parameter of the replica through ARM; undefined when the server does not offer it (404). */
export async function armParameter(arm: NonNullable<PreflightContext['arm']>, name: string): Promise<Configuration | undefined> {
  try {
    return await arm.client.configurations.get(arm.target.resourceGroup, arm.target.server, name)
  } catch (error) {
    if (isRestError(error) && error.statusCode === 404) return undefined
    throw armError(arm.target, `read the server parameter '${name}'`, error)
  }
}

/** How a person sets server parameters without datain, for fixes under --no-arm. */
export function setByHand(names: string[], value: string): string {
  const az = (name: string) => `az mariadb server configuration set --resource-group <resource-group> --server-name <server> --name ${name} --value ${value}`
  return (
    `in the Azure portal (the server → Server parameters → ${names.map((n) => `${n} = ${value}`).join(', ')} → Save), or with ` +
    names.map(az).join(' and ')
  )
}
