import {MariaDBManagementClient, type Server} from '@azure/arm-mariadb'
import type {TokenCredential} from '@azure/core-auth'
import {isRestError, type PipelinePolicy} from '@azure/core-rest-pipeline'
import {millisecondsFromEnv} from '../lib/env-seconds.js'
import {DatainError, ExitCode} from '../lib/errors.js'
import {registerSecret} from '../lib/redact.js'

export const PUBLIC_ARM_ENDPOINT = 'https://management.azure.com'

/** How long one ARM request may take, retries included, unless DATAIN_ARM_TIMEOUT_MS says otherwise. */
export const DEFAULT_ARM_TIMEOUT_MS = 60_000

/** Thrown by the deadline policy when ARM has not answered a request in time. */
export class ArmTimeoutError extends Error {
  override name = 'ArmTimeoutError'

  constructor(
    readonly timeoutMs: number,
    cause: unknown,
  ) {
    super(`no answer within ${timeoutMs / 1000} s`, {cause})
  }
}

/** DATAIN_ARM_TIMEOUT_MS (milliseconds), or {@link DEFAULT_ARM_TIMEOUT_MS} when unset or blank; anything else is bad input. */
export function armTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  return millisecondsFromEnv('DATAIN_ARM_TIMEOUT_MS', DEFAULT_ARM_TIMEOUT_MS, env)
}

/** Which replica server, in which subscription and resource group, through which ARM endpoint. */
export interface AzureTarget {
  subscription: string
  resourceGroup: string
  server: string
  endpoint?: string
}

/** The server's full ARM URL (endpoint included), as the plan shows every ARM call. */
export function armServerUrl(target: AzureTarget): string {
  return (
    `${target.endpoint ?? PUBLIC_ARM_ENDPOINT}/subscriptions/${target.subscription}/resourceGroups/${target.resourceGroup}` +
    `/providers/Microsoft.DBforMariaDB/servers/${target.server}`
  )
}

/** An ARM client and the server it manages. */
export interface ArmAccess {
  client: MariaDBManagementClient
  target: AzureTarget
}

/** The server as ARM describes it (tier, version, domain name), with the client that read it. */
export type ArmServer = ArmAccess & {server: Server}

/** Reads the server through ARM. */
export async function readArmServer(arm: ArmAccess): Promise<ArmServer> {
  const {client, target} = arm
  const server = await armCall(target, `read the server '${target.server}'`, () => client.servers.get(target.resourceGroup, target.server))
  return {...arm, server}
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
  // Loaded at the first token asked for: @azure/identity (MSAL, jsonwebtoken…) took 0.25-0.4 s of every start's start-up.
  let identity: Promise<TokenCredential> | undefined
  return {getToken: async (scopes, options) => (await (identity ??= import('@azure/identity').then((m) => new m.DefaultAzureCredential()))).getToken(scopes, options)}
}

export function armClient(target: AzureTarget, credential: TokenCredential = azureCredential()): MariaDBManagementClient {
  return new MariaDBManagementClient(credential, target.subscription, {
    endpoint: target.endpoint ?? PUBLIC_ARM_ENDPOINT,
    // The SDK's default policy retries 429 (honouring Retry-After) and 5xx; three tries, backing off.
    retryOptions: {maxRetries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 10_000},
    // The SDK has no timeout of its own: an endpoint that accepts a request and never answers would
    // hold datain forever. Per call, so that it bounds the retries too.
    additionalPolicies: [{policy: deadlinePolicy(armTimeoutMs()), position: 'perCall'}],
  })
}

/**
 * Aborts a request (its retries and their waits included) that has not been answered within
 * `timeoutMs`, with an {@link ArmTimeoutError}; the caller's own abort signal still works as before.
 */
function deadlinePolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: 'datainDeadline',
    async sendRequest(request, next) {
      const caller = request.abortSignal
      const controller = new AbortController()
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        controller.abort()
      }, timeoutMs)
      const onAbort = () => controller.abort()
      if (caller?.aborted) controller.abort()
      caller?.addEventListener('abort', onAbort)
      request.abortSignal = controller.signal
      try {
        return await next(request)
      } catch (error) {
        throw timedOut ? new ArmTimeoutError(timeoutMs, error) : error
      } finally {
        clearTimeout(timer)
        caller?.removeEventListener('abort', onAbort)
        request.abortSignal = caller
      }
    },
  }
}

const RETIREMENT = 'Microsoft retired Azure Database for MariaDB on 2025-09-19'
const FOR_NOW =
  "For a MariaDB server you administer (a VM in any cloud, on-premises, a container), run 'datain init --target mariadb': it needs no Azure flag and makes no ARM call."

/**
 * What ARM answers when a resource provider is not there for the subscription or the region: the
 * answer for a retired service's whole namespace, as opposed to one missing server. Compared
 * without case; NoRegisteredProviderFound comes as a 400, the others as 404.
 */
const PROVIDER_GONE = new Set(['noregisteredproviderfound', 'invalidresourcenamespace', 'invalidresourcetype'])

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
        `For a cloud other than Azure's public one (Azure Government, Azure operated by 21Vianet), sign in to that cloud: ` +
        `'az cloud set --name AzureUSGovernment' (or AzureChinaCloud) before 'az login', or set AZURE_AUTHORITY_HOST to its sign-in host ` +
        `(such as https://login.microsoftonline.us) for a service principal or managed identity, and give its ARM endpoint with --arm-endpoint. ` +
        `To work without Azure Resource Manager, use --no-arm.`,
    )
  }
  if (error instanceof ArmTimeoutError) {
    return fail(
      'E_ARM_UNREACHABLE',
      ExitCode.unreachable,
      `Azure Resource Manager at ${endpoint} did not answer within ${error.timeoutMs / 1000} s when datain tried to ${what}. ` +
        `Check the network, a proxy, and --arm-endpoint, then run the same command again; DATAIN_ARM_TIMEOUT_MS sets how long datain waits (milliseconds).`,
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
  const missing = notFoundError(target, what, {status, armCode, armMessage, endpoint}, error)
  if (missing) return missing
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

/**
 * E_ARM_NOT_FOUND (exit 2) for what ARM says is not there: the subscription, the resource group, the
 * server, or the Microsoft.DBforMariaDB provider itself. A missing server or provider names the
 * retirement of the service and what datain serves today. Undefined for any other answer.
 */
function notFoundError(
  target: AzureTarget,
  what: string,
  answer: {status: number; armCode?: string; armMessage: string; endpoint: string},
  error: unknown,
): DatainError | undefined {
  const {status, armCode, armMessage, endpoint} = answer
  const fail = (message: string, suggestions?: string[]) => new DatainError(message, {code: 'E_ARM_NOT_FOUND', exit: ExitCode.usage, cause: error, suggestions})
  const retired = (message: string) => fail(`${message} ${FOR_NOW}`, ['datain init --target mariadb …'])
  if (armCode !== undefined && PROVIDER_GONE.has(armCode.toLowerCase())) {
    return retired(
      `datain could not ${what}: Azure Resource Manager at ${endpoint} no longer serves Azure Database for MariaDB (${status} ${armCode}: ${armMessage}). ` +
        `${RETIREMENT}, and its servers with it.`,
    )
  }
  if (status === 404) {
    if (armCode === 'SubscriptionNotFound' || armCode === 'InvalidSubscriptionId') {
      return fail(`datain could not ${what}: the subscription '${target.subscription}' does not exist or this identity cannot see it (--subscription).`)
    }
    if (armCode === 'ResourceGroupNotFound') {
      return fail(
        `datain could not ${what}: the resource group '${target.resourceGroup}' does not exist in subscription '${target.subscription}' (--resource-group).`,
      )
    }
    return retired(
      `datain could not ${what}: no Azure Database for MariaDB server '${target.server}' exists in resource group '${target.resourceGroup}'. ` +
        `Either the name is wrong (--server), or the server is gone with the service: ${RETIREMENT}.`,
    )
  }
  return undefined
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
