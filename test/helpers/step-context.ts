import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import type {Connection} from 'mariadb'
import type {Sandbox} from '../../sandbox/sandbox.js'
import {openProfile, type ProfileStore} from '../../src/state/profile-store.js'
import type {Settings, StepRecord} from '../../src/state/schema.js'
import {openTarget} from '../../src/targets/index.js'
import {replicaAddress, sourceAddress} from '../../src/engine/addresses.js'
import {connectTo} from '../../src/lib/mariadb.js'
import {replicationPassword} from '../../src/state/passwords.js'
import {redact} from '../../src/lib/redact.js'
import {NO_RUN_OPTIONS, type RunOptions} from '../../src/state/run-options.js'
import {type Step, type StepContext, type StepId, type StepOutput} from '../../src/steps/step.js'

/** Settings to change from {@link sandboxSettings}; the nested groups are merged key by key. */
export interface SettingsOverrides extends Partial<Omit<Settings, 'source' | 'replica' | 'azure' | 'version' | 'updatedAt'>> {
  source?: Partial<Settings['source']>
  replica?: Partial<Settings['replica']>
  azure?: Partial<Settings['azure']>
}

/**
 * The settings `datain init` would record for this sandbox: the source over verified TLS (its CA as
 * `--source-ssl-ca`, so the replication user gets REQUIRE SSL), public host 127.0.0.1, the replica
 * through the gateway, ARM at the emulator, GTID, every database, `datain_repl`.
 */
export function sandboxSettings(sandbox: Sandbox, overrides: SettingsOverrides = {}): Settings {
  const now = new Date().toISOString()
  const {source, replica, azure, ...rest} = overrides
  return {
    version: 1,
    createdAt: now,
    updatedAt: now,
    target: 'azure-mariadb',
    source: {host: sandbox.source.host, port: sandbox.source.port, user: sandbox.source.user, publicHost: '127.0.0.1', ssl: 'on', sslCa: sandbox.source.sslCa, ...source},
    replica: {host: sandbox.replica.host, port: sandbox.replica.port, user: sandbox.replica.user, ssl: 'on', sslCa: sandbox.replica.sslCa, tlsVerify: true, ...replica},
    azure: {
      subscription: sandbox.azure.subscriptionId,
      resourceGroup: sandbox.azure.resourceGroup,
      server: sandbox.replica.serverName,
      armEndpoint: sandbox.azure.arm.url,
      useArm: true,
      manageFirewall: true,
      ...azure,
    },
    databases: [],
    gtid: true,
    replicationUser: 'datain_repl',
    unfilteredSubset: false,
    ...rest,
  }
}

export interface StepContextOptions {
  /** DATAIN_HOME: a temp folder of the test's own. Contexts on the same home and profile share the checkpoint (a resumed run). */
  home: string
  /** Default `test`. */
  profile?: string
  settings?: SettingsOverrides
  /**
   * Where DATAIN_REPLICATION_PASSWORD is read from. Default `{}`, not process.env, so that a
   * developer's own environment never changes what a test does.
   */
  env?: NodeJS.ProcessEnv
  /** Start the checkpoint over even when one exists (default: keep it, as `datain start` resumes). */
  freshCheckpoint?: boolean
  /** This run's dangerous choices (`start --replace-databases`, `--take-over-replica`); default none. */
  run?: Partial<RunOptions>
}

/**
 * A real StepContext for the sandbox, plus what a test needs to look at it. Mutable on purpose:
 * {@link beginStep} points it at a step (its `previous` record, `outputs`, where `progress` goes),
 * as the runner does for each step of a run. A StepContext<never>: one context plays every step in
 * turn, so it must pass for the context of any of them.
 */
export interface TestStepContext extends StepContext<never> {
  /** Every `ui.info` line, redacted as stderr would show it. */
  lines: string[]
  /** Every `ui.status` line. */
  statuses: string[]
  /** Abort it to play Ctrl-C: `signal` is its signal. */
  controller: AbortController
  /** The step {@link beginStep} started; `progress` records into it. */
  stepId?: StepId
  /** Ends the connections this context opened and releases the profile's lock. Call it in a finally / afterEach. */
  close(): Promise<void>
}

/**
 * Builds the StepContext the runner would build for a run against `sandbox`: the profile store
 * under `home` (settings written, lock taken, a checkpoint with fingerprint `test` unless one
 * exists), lazy connections through `connectTo` with the sandbox's CAs (a failed connection is not
 * kept: the next call tries again, which the firewall step relies on), the real ARM client against
 * the emulator with a static token, the replication password from `env` / the secrets file /
 * generated, a UI that collects lines. Only one context per home and profile at a time (the lock).
 */
export async function stepContextFor(sandbox: Sandbox, options: StepContextOptions): Promise<TestStepContext> {
  const profile = options.profile ?? 'test'
  const store = openProfile(options.home, profile)
  const {version: _version, updatedAt: _updatedAt, ...input} = sandboxSettings(sandbox, options.settings)
  const settings = await store.writeSettings(input)
  const lock = await store.lock('test')
  const checkpoint = await store.readCheckpoint()
  if (options.freshCheckpoint || !checkpoint.fingerprint) await store.resetCheckpoint('test')

  const source = await sourceAddress(settings, sandbox.source.password)
  const replica = await replicaAddress(settings, sandbox.replica.password)
  const token = sandbox.azure.token
  const credential = {getToken: async () => ({token, expiresOnTimestamp: Date.now() + 3_600_000})}
  const env = options.env ?? {}
  const controller = new AbortController()
  const opened: Connection[] = []

  const lazy = (open: () => Promise<Connection>) => {
    let pending: Promise<Connection> | undefined
    return () => {
      pending ??= open().then(
        (conn) => {
          opened.push(conn)
          return conn
        },
        (error: unknown) => {
          pending = undefined
          throw error
        },
      )
      return pending
    }
  }
  let password: Promise<string> | undefined

  const ctx: TestStepContext = {
    profile,
    settings,
    run: {...NO_RUN_OPTIONS, ...options.run},
    store,
    outputs: await doneOutputs(store),
    previous: undefined,
    lines: [],
    statuses: [],
    controller,
    signal: controller.signal,
    sourceAddress: source,
    replicaAddress: replica,
    target: await openTarget(settings, {replica: () => ctx.replica(), credential}),
    source: lazy(() => connectTo('source', source)),
    replica: lazy(() => connectTo('replica', replica)),
    async progress(output: StepOutput) {
      if (!ctx.stepId) throw new Error('progress() outside a step: call beginStep(ctx, stepId) first')
      await store.recordProgress(ctx.stepId, output)
    },
    replicationPassword() {
      password ??= replicationPassword(store, env).then(
        (r) => r.password,
        (error: unknown) => {
          password = undefined
          throw error
        },
      )
      return password
    },
    ui: {
      info: (message) => void ctx.lines.push(redact(message)),
      status: (message) => void ctx.statuses.push(redact(message)),
    },
    async close() {
      await Promise.allSettled(opened.splice(0).map((conn) => conn.end()))
      await lock.release()
    },
  }
  return ctx
}

/** The outputs of the steps the checkpoint has as done, by id. */
async function doneOutputs(store: ProfileStore): Promise<StepContext['outputs']> {
  const checkpoint = await store.readCheckpoint()
  const outputs: StepContext['outputs'] = {}
  for (const [id, record] of Object.entries(checkpoint.steps)) {
    if (record?.state === 'done' && record.output) (outputs as Record<string, unknown>)[id] = record.output
  }
  return outputs
}

/**
 * Starts `stepId` as the runner does: `outputs` from the checkpoint's done steps, `previous` = the
 * step's record if an earlier run left it unfinished (running, failed, interrupted) — or the
 * `previous` given, to play a crash that left a marker — then marks it running (which starts its
 * record afresh, so a step must carry forward what it needs from `previous`).
 */
export async function beginStep(ctx: TestStepContext, stepId: StepId, previous?: StepRecord): Promise<void> {
  const record = (await ctx.store.readCheckpoint()).steps[stepId]
  ctx.outputs = await doneOutputs(ctx.store)
  ctx.previous = (previous ?? (record && record.state !== 'done' ? record : undefined)) as never
  await ctx.store.markStep(stepId, {state: 'running'})
  ctx.stepId = stepId
}

/** Marks the current step done with `output`. */
export async function finishStep(ctx: TestStepContext, output: StepOutput): Promise<void> {
  // The output of the step begun (beginStep): TypeScript cannot pair the two through the id.
  await ctx.store.markStep(requireStep(ctx), {state: 'done', output: output as never})
  ctx.stepId = undefined
}

/** Marks the current step failed (or interrupted), keeping the progress it recorded, as the runner must. */
export async function failStep(ctx: TestStepContext, error: unknown, state: 'failed' | 'interrupted' = 'failed'): Promise<void> {
  const stepId = requireStep(ctx)
  const record = (await ctx.store.readCheckpoint()).steps[stepId]
  const e = error as {code?: unknown; message?: unknown}
  await ctx.store.markStep(stepId, {
    state,
    output: record?.output,
    error: {code: typeof e?.code === 'string' ? e.code : 'E_BUG', message: redact(String(e?.message ?? error))},
  })
  ctx.stepId = undefined
}

/** beginStep, `step.run`, then finishStep or failStep (and rethrow): one step of a run, checkpointed. */
export async function runStep<K extends StepId>(ctx: TestStepContext, step: Step<K>, previous?: StepRecord): Promise<StepOutput<K>> {
  await beginStep(ctx, step.id, previous)
  let output: StepOutput<K>
  try {
    output = await step.run(ctx)
  } catch (error) {
    await failStep(ctx, error, ctx.signal.aborted ? 'interrupted' : 'failed')
    throw error
  }
  await finishStep(ctx, output)
  return output
}

/** The text of every file in the profile folder but `except` (default the secrets file): to assert that no secret reached the disk. */
export async function profileFilesText(store: ProfileStore, except: readonly string[] = ['secrets.json']): Promise<Record<string, string>> {
  const files: Record<string, string> = {}
  for (const name of await readdir(store.dir)) {
    if (except.includes(name)) continue
    files[name] = await readFile(path.join(store.dir, name), 'utf8')
  }
  return files
}

function requireStep(ctx: TestStepContext): StepId {
  if (!ctx.stepId) throw new Error('no step begun: call beginStep(ctx, stepId) first')
  return ctx.stepId
}
