import {MariaDBManagementClient} from '@azure/arm-mariadb'
import type {TokenCredential} from '@azure/core-auth'
import {isRestError} from '@azure/core-rest-pipeline'
import {DefaultAzureCredential} from '@azure/identity'
import {DatainError, ExitCode} from './errors.js'
import {registerSecret} from './redact.js'

export const PUBLIC_ARM_ENDPOINT = 'https://management.azure.com'

/** Which replica server, in which subscription and resource group, through which ARM endpoint. */
export interface AzureTarget {
  subscription: string
  resourceGroup: string
  server: string
  endpoint?: string
}

/**
 * A bearer token from DATAIN_ARM_TOKEN (CI, emulators, tokens minted elsewhere), else
 * DefaultAzureCredential: environment, workload or managed identity, az login, and the rest.
 */
export function azureCredential(env: NodeJS.ProcessEnv = process.env): TokenCredential {
  const token = env.DATAIN_ARM_TOKEN
  if (token) {
    registerSecret(token)
    // @azure/identity has no static-token credential; the interface is one method.
    return {getToken: async () => ({token, expiresOnTimestamp: Date.now() + 3_600_000})}
  }
  return new DefaultAzureCredential()
}

export function armClient(target: AzureTarget, credential: TokenCredential = azureCredential()): MariaDBManagementClient {
  return new MariaDBManagementClient(credential, target.subscription, {
    endpoint: target.endpoint ?? PUBLIC_ARM_ENDPOINT,
    // The SDK's default policy retries 429 (honouring Retry-After) and 5xx; three tries, backing off.
    retryOptions: {maxRetries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 10_000},
  })
}

/** Runs one ARM call and turns its failures into a paragraph that says what to check. */
export async function armCall<T>(target: AzureTarget, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    throw armError(target, what, error)
  }
}

export function armError(target: AzureTarget, what: string, error: unknown): DatainError {
  const endpoint = target.endpoint ?? PUBLIC_ARM_ENDPOINT
  const fail = (code: string, exit: ExitCode, message: string) => new DatainError(message, {code, exit, cause: error})
  if ((error as Error)?.name === 'CredentialUnavailableError' || (error as Error)?.name === 'AuthenticationError' || (error as Error)?.name === 'AggregateAuthenticationError') {
    return fail(
      'E_ARM_CREDENTIALS',
      ExitCode.unreachable,
      `datain found no Azure credentials to ${what}. Sign in with 'az login', set AZURE_TENANT_ID, AZURE_CLIENT_ID and ` +
        `AZURE_CLIENT_SECRET for a service principal, run where a managed identity is available, or give a token in DATAIN_ARM_TOKEN. ` +
        `To work without Azure Resource Manager, use --no-arm.`,
    )
  }
  if (!isRestError(error)) {
    return fail('E_ARM_CALL', ExitCode.unreachable, `datain could not ${what} through Azure Resource Manager at ${endpoint}: ${(error as Error)?.message ?? error}.`)
  }
  const status = error.statusCode
  const armCode = armErrorCode(error)
  const armMessage = armErrorMessage(error) ?? error.message
  if (status === undefined) {
    return fail(
      'E_ARM_UNREACHABLE',
      ExitCode.unreachable,
      `Azure Resource Manager at ${endpoint} did not answer when datain tried to ${what} (${error.code ?? error.message}). ` +
        `Check the network, a proxy, and --arm-endpoint.`,
    )
  }
  if (status === 401) {
    return fail(
      'E_ARM_UNAUTHENTICATED',
      ExitCode.unreachable,
      `Azure Resource Manager refused datain's credentials (401 ${armCode ?? ''}) when it tried to ${what}. ` +
        `Sign in again with 'az login' (or renew DATAIN_ARM_TOKEN), and check that the token is for the cloud of ${endpoint}.`,
    )
  }
  if (status === 403) {
    return fail(
      'E_ARM_FORBIDDEN',
      ExitCode.unreachable,
      `Azure Resource Manager did not allow datain to ${what} (403 ${armCode ?? ''}: ${armMessage}). ` +
        `The identity datain uses needs a role on the server '${target.server}' that may read it and change its firewall rules ` +
        `and parameters, such as Contributor.`,
    )
  }
  if (status === 404) {
    const which =
      armCode === 'SubscriptionNotFound' || armCode === 'InvalidSubscriptionId'
        ? `the subscription '${target.subscription}' does not exist or this identity cannot see it (--subscription)`
        : armCode === 'ResourceGroupNotFound'
          ? `the resource group '${target.resourceGroup}' does not exist in subscription '${target.subscription}' (--resource-group)`
          : `no Azure Database for MariaDB server '${target.server}' exists in resource group '${target.resourceGroup}' (--server)`
    return fail('E_ARM_NOT_FOUND', ExitCode.usage, `datain could not ${what}: ${which}.`)
  }
  if (status === 429 || status >= 500) {
    return fail(
      'E_ARM_UNAVAILABLE',
      ExitCode.unreachable,
      `Azure Resource Manager kept failing (${status} ${armCode ?? ''}) when datain tried to ${what}, after retries. ` +
        `Run the same command again in a few minutes; datain resumes where it stopped.`,
    )
  }
  return fail('E_ARM_REQUEST', ExitCode.failed, `Azure Resource Manager refused to ${what} (${status} ${armCode ?? ''}: ${armMessage}).`)
}

function armBody(error: {details?: unknown; response?: {bodyAsText?: string | null}}): {code?: string; message?: string} | undefined {
  try {
    const body = JSON.parse(error.response?.bodyAsText ?? '') as {error?: {code?: string; message?: string}}
    return body.error
  } catch {
    return undefined
  }
}

function armErrorCode(error: Parameters<typeof armBody>[0] & {code?: string}): string | undefined {
  return armBody(error)?.code ?? error.code
}

function armErrorMessage(error: Parameters<typeof armBody>[0]): string | undefined {
  return armBody(error)?.message
}
