/**
 * What the link and replicate tests share: a sandbox with a replication user on the source, a real
 * StepContext against it (test/helpers/step-context.ts), and the state the snapshot step would
 * leave (the same tables on both sides, the source's coordinates in the checkpoint).
 */
import {mkdtemp, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {REPLICATION_PASSWORD_ENV} from '../../src/state/passwords.js'
import type {SnapshotOutput} from '../../src/state/step-outputs.js'
import {beginStep, finishStep, type SettingsOverrides, type StepContextOptions, stepContextFor, type TestStepContext} from '../helpers/step-context.js'

export const REPLICATION_USER = 'datain_repl'
/** Quotes, `$`, a backslash and non-ASCII: whatever handles the password wrong breaks here first. */
export const REPLICATION_PASSWORD = `Rpl'"$\\ü-${Math.random().toString(36).slice(2, 10)}`

/** A snapshot step's output, for a copy made by hand. */
export type Snapshot = SnapshotOutput

/** A sandbox whose gateway lets this machine in, with the replication user on the source (REQUIRE SSL). */
export async function startReplicationSandbox(): Promise<Sandbox> {
  const sandbox = await startSandbox({sampleRows: 0})
  sandbox.azure.state.firewallRules.set('test-loopback', {name: 'test-loopback', startIpAddress: '127.0.0.1', endIpAddress: '127.0.0.1'})
  await sandbox.source.server.query(`CREATE USER ?@'%' IDENTIFIED BY ? REQUIRE SSL`, [REPLICATION_USER, REPLICATION_PASSWORD])
  await sandbox.source.server.query(`GRANT REPLICATION SLAVE ON *.* TO ?@'%'`, [REPLICATION_USER])
  return sandbox
}

/**
 * What the snapshot step leaves: each database with table `t` on both sides (as a restore would),
 * `extra` databases on the source only, and the source's coordinates after that.
 */
export async function snapshotByHand(sandbox: Sandbox, databases: string[], extra: string[] = []): Promise<Snapshot> {
  const table = (db: string) => `CREATE TABLE \`${db}\`.t (id INT PRIMARY KEY, note VARCHAR(40))`
  await sandbox.source.server.execute([...[...databases, ...extra].flatMap((db) => [`CREATE DATABASE \`${db}\``, table(db)])])
  await sandbox.replica.server.execute(databases.flatMap((db) => [`CREATE DATABASE \`${db}\``, table(db)]))
  const [master] = await sandbox.source.server.query<Array<{File: string; Position: bigint}>>('SHOW MASTER STATUS')
  const [{gtid}] = (await sandbox.source.server.query<Array<{gtid: string}>>('SELECT BINLOG_GTID_POS(?, ?) AS gtid', [master!.File, master!.Position])) as [
    {gtid: string},
  ]
  return {databases, createdDatabases: databases, gtidPosition: gtid, binlogFile: master!.File, binlogPosition: Number(master!.Position), bytes: 0, rows: 0, seconds: 0}
}

/** Unlinks the replica and drops what a test made on both sides, as root (the sandbox's back door). */
export async function resetServers(sandbox: Sandbox, databases: string[]): Promise<void> {
  await sandbox.replica.server.execute([
    'STOP SLAVE',
    'RESET SLAVE ALL',
    "SET GLOBAL replicate_wild_ignore_table = ''",
    'SET GLOBAL sync_master_info = 10000',
    'SET GLOBAL sync_relay_log_info = 10000',
    'SET GLOBAL general_log = OFF',
    ...databases.map((db) => `DROP DATABASE IF EXISTS \`${db}\``),
  ])
  await sandbox.source.server.execute(databases.map((db) => `DROP DATABASE IF EXISTS \`${db}\``))
}

export interface ContextOptions {
  settings?: SettingsOverrides
  /** Recorded as the snapshot step's output in the checkpoint, as the snapshot step would leave it. */
  snapshot?: Snapshot
  /** The replication password datain passes (DATAIN_REPLICATION_PASSWORD); default the user's real one. */
  password?: string
  /** This run's dangerous choices (`start --take-over-replica`…); default none. */
  run?: StepContextOptions['run']
}

export interface ReplicationTestContext extends TestStepContext {
  /** Ends the context and removes its DATAIN_HOME. */
  dispose(): Promise<void>
}

/**
 * The StepContext of a run against the sandbox (test/helpers/step-context.ts), in a DATAIN_HOME of
 * its own, with the snapshot step done in its checkpoint.
 */
export async function stepContext(sandbox: Sandbox, options: ContextOptions = {}): Promise<ReplicationTestContext> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'datain-step-'))
  const ctx = await stepContextFor(sandbox, {
    home,
    settings: {replicationUser: REPLICATION_USER, ...options.settings},
    env: {[REPLICATION_PASSWORD_ENV]: options.password ?? REPLICATION_PASSWORD},
    run: options.run,
  })
  if (options.snapshot) {
    await beginStep(ctx, 'snapshot')
    await finishStep(ctx, options.snapshot)
    ctx.outputs = {...ctx.outputs, snapshot: options.snapshot}
  }
  return Object.assign(ctx, {
    async dispose() {
      await ctx.close()
      await rm(home, {recursive: true, force: true})
    },
  })
}

/** Polls `check` until it holds (or throws after `timeoutMs`). */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** SHOW SLAVE STATUS as root, raw. */
export async function rootSlaveStatus(sandbox: Sandbox): Promise<Record<string, unknown> | undefined> {
  const rows = await sandbox.replica.server.query<Array<Record<string, unknown>>>('SHOW SLAVE STATUS')
  return rows[0]
}

/** A global variable of the replica, read as root. */
export async function replicaVariable(sandbox: Sandbox, name: string): Promise<string> {
  const rows = await sandbox.replica.server.query<Array<{Value: string}>>('SHOW GLOBAL VARIABLES WHERE Variable_name = ?', [name])
  return rows[0]?.Value ?? ''
}

/** Rows of `db`.t on the replica (as root), by id. */
export async function replicaRows(sandbox: Sandbox, db: string): Promise<Array<{id: number; note: string}>> {
  const rows = await sandbox.replica.server.query<Array<{id: number; note: string}>>(`SELECT id, note FROM \`${db}\`.t ORDER BY id`)
  return rows.map((r) => ({id: Number(r.id), note: r.note}))
}
