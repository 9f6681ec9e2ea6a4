import type {Checkpoint, StepRecord} from '../state/schema.js'
import type {Step, StepId} from '../steps/step.js'
import type {LockHolder} from './lock-holder.js'
import type {StepStatus} from './status-report.js'
import {formatBytes, formatDuration, formatTime} from '../lib/format.js'

/** Where the setup stands, from the checkpoint and the lock: what decides exit 1 and the next command. */
export type SetupProgress =
  | {kind: 'not-started'}
  /** A live `datain start` runs `step` now (undefined: it has not marked its first step yet). */
  | {kind: 'in-progress'; step: StepStatus | undefined; holder: LockHolder}
  /** `step` is the first one not done: failed, interrupted, or not reached. */
  | {kind: 'incomplete'; step: StepStatus}
  | {kind: 'complete'}

/** Recorded when a step was left `running` by a datain that is gone: the checkpoint could not say why. */
export const STOPPED_MID_STEP = 'E_STOPPED_MID_STEP'

/**
 * Each setup step as status shows it, in setup order. A step the checkpoint says is running while no
 * live datain holds the profile's lock was left so by a datain that was killed (or a machine that went
 * down): it shows as interrupted, and the next `datain start` runs it again from its start.
 */
export function stepStatuses(steps: readonly Step[], checkpoint: Checkpoint, holder: LockHolder | undefined, now: Date): StepStatus[] {
  const live = holder !== undefined && holder.alive !== false
  return steps.map((step) => {
    const record = checkpoint.steps[step.id]
    if (!record) {
      return {id: step.id, title: step.title, state: 'not-started', startedAt: null, finishedAt: null, seconds: null, summary: null, details: {}, error: null, progress: null}
    }
    const orphaned = record.state === 'running' && !live
    const end = record.finishedAt ?? (orphaned ? undefined : now.toISOString())
    const {details, summary} = keyOutputs(step.id, record.output ?? {}, record.state === 'done')
    return {
      id: step.id,
      title: step.title,
      state: orphaned ? 'interrupted' : record.state,
      startedAt: record.startedAt,
      finishedAt: record.finishedAt ?? null,
      seconds: end ? Math.max(0, (Date.parse(end) - Date.parse(record.startedAt)) / 1000) : null,
      summary,
      details,
      error: record.error ?? (orphaned ? {code: STOPPED_MID_STEP, message: stoppedMidStep(holder)} : null),
      progress: null,
    }
  })
}

function stoppedMidStep(holder: LockHolder | undefined): string {
  const who = holder ? `datain (pid ${holder.pid}, ${holder.command})` : 'datain'
  return `${who} stopped during this step without recording why (killed, or the machine went down); the next datain start runs the step again from its start.`
}

/**
 * The setup as a whole. Complete once the last step is done: a later `datain start` re-checks
 * (the preflight runs on every start), and a failed re-check does not undo a finished setup.
 */
export function setupProgress(steps: readonly StepStatus[], holder: LockHolder | undefined): SetupProgress {
  const live = holder !== undefined && holder.alive !== false && holder.command.startsWith('start') && !holder.command.includes('--dry-run')
  const last = steps.at(-1)
  if (last?.state === 'done' || steps.every((s) => s.state === 'done')) return {kind: 'complete'}
  const running = steps.find((s) => s.state === 'running')
  if (running && holder) return {kind: 'in-progress', step: running, holder}
  if (steps.every((s) => s.state === 'not-started')) return live ? {kind: 'in-progress', step: undefined, holder: holder!} : {kind: 'not-started'}
  return {kind: 'incomplete', step: steps.find((s) => s.state !== 'done')!}
}

/** The outputs worth showing, per step; anything else in the checkpoint is for the steps themselves. */
const KEY_OUTPUTS: Readonly<Record<StepId, readonly string[]>> = {
  preflight: ['passed', 'warnings', 'createdRules'],
  binlog: ['logBin', 'binlogFormat', 'serverId', 'replicaServerId'],
  'replication-user': ['user', 'host', 'requireSsl', 'action'],
  firewall: ['managed', 'notApplicable', 'sourceIp', 'clientIp', 'createdRules', 'reusedRules'],
  snapshot: ['databases', 'rows', 'bytes', 'seconds', 'gtidPosition', 'binlogFile', 'binlogPosition', 'createdDatabases', 'tableSummary'],
  link: ['mode', 'gtidPosition', 'binlogFile', 'binlogPosition', 'tls', 'filter', 'procedureSchema', 'action'],
  replicate: ['mode', 'startedAt', 'caughtUpAt', 'alreadyRunning', 'gtidPosition', 'binlogFile', 'binlogPosition', 'sourcePosition'],
}

function keyOutputs(id: StepId, output: StepRecord['output'] & object, done: boolean): {details: Record<string, unknown>; summary: string | null} {
  const details: Record<string, unknown> = {}
  for (const key of KEY_OUTPUTS[id] ?? []) if (output[key] !== undefined) details[key] = output[key]
  return {details, summary: describe(id, details, done) || null}
}

function describe(id: StepId, o: Record<string, unknown>, done: boolean): string {
  const list = (value: unknown) => (Array.isArray(value) ? value.map(String) : [])
  const num = (value: unknown) => (typeof value === 'number' ? value : undefined)
  switch (id) {
    case 'preflight': {
      if (!done) return ''
      const warnings = list(o.warnings)
      return `${num(o.passed) ?? 0} checks passed` + (warnings.length > 0 ? `; warnings: ${warnings.join(', ')}` : '')
    }
    case 'binlog':
      if (!done) return ''
      return `binlog_format ${String(o.binlogFormat)}, server_id ${String(o.serverId)}` + (o.replicaServerId != null ? ` (replica ${String(o.replicaServerId)})` : '')
    case 'replication-user':
      if (typeof o.user !== 'string') return ''
      return `${o.user}@'${String(o.host ?? '%')}'` + (o.requireSsl ? ', REQUIRE SSL' : '') + (typeof o.action === 'string' ? `, ${o.action}` : '')
    case 'firewall': {
      if (o.notApplicable === true) return 'not applicable to this target: datain opens no firewall'
      const created = list(o.createdRules)
      const reused = list(o.reusedRules)
      const parts = [created.length > 0 ? `rules created: ${created.join(', ')}` : done ? 'no rule created' : '']
      if (reused.length > 0) parts.push(`existing rules used: ${reused.join(', ')}`)
      if (o.managed === false) parts.push('not managed (--no-firewall or --no-arm)')
      return parts.filter(Boolean).join('; ')
    }
    case 'snapshot': {
      if (!done) {
        const created = list(o.createdDatabases)
        return created.length > 0 ? `databases created so far: ${created.join(', ')}` : ''
      }
      const rows = num(o.rows)
      const bytes = num(o.bytes)
      const seconds = num(o.seconds)
      const copied = [rows !== undefined ? `${rows.toLocaleString('en-US')} rows` : '', bytes !== undefined ? formatBytes(bytes) : '']
        .filter(Boolean)
        .join(', ')
      const position = [o.gtidPosition ? `GTID ${String(o.gtidPosition)}` : '', o.binlogFile ? `${String(o.binlogFile)}:${String(o.binlogPosition)}` : '']
        .filter(Boolean)
        .join(', ')
      return `${list(o.databases).join(', ')}: ${copied}${seconds !== undefined ? ` in ${formatDuration(seconds)}` : ''}; source at ${position}`
    }
    case 'link': {
      if (!done) return ''
      const from = o.mode === 'gtid' ? `GTID mode from ${String(o.gtidPosition)}` : `file mode from ${String(o.binlogFile)}:${String(o.binlogPosition)}`
      const filter = o.filter && typeof o.filter === 'object' ? `, filter ${String((o.filter as {value?: unknown}).value)}` : ''
      return `${from}, ${o.tls ? 'over TLS' : 'without TLS'}${filter} (${String(o.action)})`
    }
    case 'replicate':
      if (!done) return ''
      return (typeof o.caughtUpAt === 'string' ? `caught up at ${formatTime(o.caughtUpAt)}` : 'caught up') + (o.alreadyRunning ? ' (it was already running)' : '')
  }
}
