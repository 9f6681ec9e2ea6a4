import {openTarget} from '../../src/targets/index.js'
import {readFileSync} from 'node:fs'
import type {Connection} from 'mariadb'
import type {Sandbox} from '../../sandbox/sandbox.js'
import type {Lock} from '../../src/state/lock.js'
import {openProfile, type ProfileStore} from '../../src/state/profile-store.js'
import type {Settings, StepRecord} from '../../src/state/schema.js'
import type {AzureTarget} from '../../src/azure/arm.js'
import {connectTo, type ServerAddress} from '../../src/lib/mariadb.js'
import {NO_RUN_OPTIONS, type RunOptions} from '../../src/state/run-options.js'
import {type StepContext, type StepId} from '../../src/steps/step.js'

export interface TestStepContext {
  ctx: StepContext<'snapshot'>
  store: ProfileStore
  /** What the step said through ctx.ui. */
  infos: string[]
  statuses: string[]
  /** The step's record as the runner would leave it after a failure or abort (state, output so far). */
  finish(state: 'failed' | 'interrupted'): Promise<StepRecord>
  close(): Promise<void>
}

export interface TestStepOptions {
  /** DATAIN_HOME of the test. */
  home: string
  profile?: string
  step?: StepId
  settings?: Partial<Omit<Settings, 'azure'>> & {azure?: Partial<Settings['azure']>}
  /** The record an earlier, unfinished attempt left (see finish()). */
  previous?: StepRecord
  noArm?: boolean
  signal?: AbortSignal
  /** `datain start --parallel N`: 1 for the streamed mariadb-dump copy; default as datain picks. */
  parallel?: number
  /** This run's dangerous choices (`start --replace-databases`); default none. */
  run?: Partial<RunOptions>
}

/**
 * The StepContext the runner gives a step, built here from a sandbox: a real profile store (locked,
 * checkpoint with a fingerprint, the step marked running with what an earlier attempt recorded, as
 * the runner does), real connections, the real ARM client against the emulated ARM.
 */
export async function testStepContext(sandbox: Sandbox, options: TestStepOptions): Promise<TestStepContext> {
  const step = options.step ?? 'snapshot'
  const store = openProfile(options.home, options.profile ?? 'test')
  const lock: Lock = await store.lock('test')
  if (!(await store.readCheckpoint()).fingerprint) await store.resetCheckpoint('fp')
  await store.markStep(step, {state: 'running', output: options.previous?.output})

  const sourceAddress: ServerAddress = {
    host: sandbox.source.host,
    port: sandbox.source.port,
    user: sandbox.source.user,
    password: sandbox.source.password,
    tls: {ca: readFileSync(sandbox.source.sslCa, 'utf8'), verify: true},
  }
  const replicaAddress: ServerAddress = {
    host: sandbox.replica.host,
    port: sandbox.replica.port,
    user: sandbox.replica.user,
    password: sandbox.replica.password,
    tls: {ca: readFileSync(sandbox.replica.sslCa, 'utf8'), verify: true},
  }
  const target: AzureTarget = {
    subscription: sandbox.azure.subscriptionId,
    resourceGroup: sandbox.azure.resourceGroup,
    server: sandbox.replica.serverName,
    endpoint: sandbox.azure.arm.url,
  }
  const now = new Date().toISOString()
  const settings: Settings = {
    version: 1,
    createdAt: now,
    updatedAt: now,
    target: 'azure-mariadb',
    source: {host: sourceAddress.host, port: sourceAddress.port, user: sourceAddress.user, publicHost: '127.0.0.1', ssl: 'on', sslCa: sandbox.source.sslCa},
    replica: {host: replicaAddress.host, port: replicaAddress.port, user: replicaAddress.user, ssl: 'on', sslCa: sandbox.replica.sslCa, tlsVerify: true},
    databases: [],
    gtid: true,
    replicationUser: 'datain_repl',
    unfilteredSubset: false,
    ...options.settings,
    azure: {
      subscription: target.subscription,
      resourceGroup: target.resourceGroup,
      server: target.server,
      armEndpoint: target.endpoint,
      useArm: !options.noArm,
      manageFirewall: true,
      ...options.settings?.azure,
    },
  }

  const connections: Connection[] = []
  const lazy = (open: () => Promise<Connection>) => {
    let conn: Connection | undefined
    return async () => {
      if (conn?.isValid()) return conn
      conn = await open()
      connections.push(conn)
      return conn
    }
  }
  const token = sandbox.azure.token
  const infos: string[] = []
  const statuses: string[] = []
  const ctx: StepContext<'snapshot'> = {
    profile: store.name,
    settings,
    run: {...NO_RUN_OPTIONS, ...options.run},
    store,
    outputs: {},
    previous: options.previous as StepContext<'snapshot'>['previous'],
    progress: async (output) => {
      await store.recordProgress(step, output)
    },
    source: lazy(() => connectTo('source', sourceAddress)),
    replica: lazy(() => connectTo('replica', replicaAddress)),
    sourceAddress,
    replicaAddress,
    target: await openTarget(settings, {replica: () => ctx.replica(), credential: {getToken: async () => ({token, expiresOnTimestamp: Date.now() + 3_600_000})}}),
    replicationPassword: async () => 'not-used-by-these-steps',
    signal: options.signal ?? new AbortController().signal,
    ui: {info: (m) => infos.push(m), status: (m) => statuses.push(m)},
    parallel: options.parallel,
  }

  let closed = false
  return {
    ctx,
    store,
    infos,
    statuses,
    async finish(state) {
      // As the runner does: the step's progress stays in its record.
      const output = (await store.readCheckpoint()).steps[step]?.output
      const checkpoint = await store.markStep(step, {state, output, error: {code: 'E_TEST', message: state}})
      return checkpoint.steps[step]!
    },
    async close() {
      if (closed) return
      closed = true
      await Promise.allSettled(connections.map((c) => c.end()))
      await lock.release()
    },
  }
}
