import type {CleanupResult} from '../stop/cleanup.js'
import {describePosition} from '../replication/link-state.js'
import type {StopResult} from '../stop/run-stop.js'
import type {SkipResult} from '../skip/run-skip.js'
import {terminalLine, terminalSafe} from './terminal-text.js'

/** `datain stop` for people: where the link stands, the cutover's figures, what the cleanup removed. */
export function renderStop(stop: StopResult): string {
  // Positions, errors and names come from the servers.
  const result = terminalSafe(stop)
  const p = result.profile === 'default' ? '' : ` --profile ${result.profile}`
  const lines: string[] = []
  if (result.sourceReadOnly) {
    const {action, lockedAt} = result.sourceReadOnly
    lines.push(
      action === 'restored'
        ? `An earlier cutover was interrupted after it made the source read-only (${lockedAt}): read_only is OFF again, as it was.`
        : action === 'kept'
          ? `An earlier cutover made the source read-only (${lockedAt}) and removed the link: the source stays read-only on purpose (SET GLOBAL read_only = OFF undoes it).`
          : `An earlier cutover was interrupted after it made the source read-only (${lockedAt}); the source could not be reached to put it back: the next 'datain stop' does, or run SET GLOBAL read_only = OFF on it.`,
    )
  }
  const at = result.position ? ` at ${describePosition(result.position)}` : ''
  if (result.cutover) {
    const c = result.cutover
    lines.push(
      c.alreadyDone
        ? `The cutover of profile '${result.profile}' was done at ${c.completedAt}: the replica stands alone.`
        : `Cutover of profile '${result.profile}' complete: the replica has applied everything the source wrote, and stands alone.`,
    )
    if (c.finalPosition) {
      const source = c.finalPosition.gtid ? `GTID ${c.finalPosition.gtid} (${c.finalPosition.file}:${c.finalPosition.position})` : `${c.finalPosition.file}:${c.finalPosition.position}`
      lines.push(`  Final position:   ${source}`)
    }
    const lock = c.source
    if (lock?.locked) {
      const blocked = lock.writesBlockedSeconds ?? 0
      lines.push(`  Writes blocked:   ${blocked.toFixed(blocked < 1 ? 2 : 1)} s on the source (read_only=ON until the link was removed)`)
      lines.push(
        c.alreadyDone
          ? `  datain left the source read-only at the cutover; if it still is and should not be, on the source: ${c.undo};`
          : `  The source stays read-only, so that nothing writes to the old server by mistake. To undo it, on the source: ${c.undo};`,
      )
      lines.push('  (read_only is not persistent: a restart of the source also ends it, unless its my.cnf sets it.)')
    } else if (lock?.wasReadOnly) {
      lines.push('  The source was already read-only; datain left it so.')
    } else if (lock && !lock.requested) {
      lines.push(`  ${c.warning ?? 'The source was not made read-only (--no-lock-source).'} Make sure the application writes only to the replica now.`)
    }
    if (c.replicaReadOnly) {
      lines.push("  The replica is read-only (read_only=ON): the application cannot write to it until, on the replica: SET GLOBAL read_only = OFF; (and in its my.cnf, if it sets read_only).")
    }
    lines.push(`  Events enabled:   ${c.eventsEnabled.length > 0 ? c.eventsEnabled.map(terminalLine).join(', ') : 'none (no event was DISABLE ON SLAVE)'}`)
    if (c.eventsEnabled.length > 0 && !/^(on|1)$/i.test(c.eventScheduler)) {
      lines.push(`  The replica's event_scheduler is ${c.eventScheduler}: the events run once it is ON (server parameter event_scheduler).`)
    }
  } else if (result.link === 'removed') {
    lines.push(
      result.removedNow
        ? `Replication of profile '${result.profile}' stopped${at} and its link removed: the replica stands alone.`
        : `The link of profile '${result.profile}' is removed: the replica stands alone.`,
    )
  } else {
    lines.push(
      result.stoppedNow
        ? `Replication of profile '${result.profile}' stopped${at}. The link stays in place: 'datain start${p}' starts it again.`
        : `Replication of profile '${result.profile}' was already stopped${at}. 'datain start${p}' starts it again.`,
    )
  }
  if (result.cleanup) lines.push(...renderCleanup(result.cleanup))
  else if (result.link === 'removed') lines.push(`Remove the replication user, firewall rules and server parameters datain created with 'datain stop${p} --cleanup'.`)
  return lines.join('\n')
}

function renderCleanup(c: CleanupResult): string[] {
  const lines = ['Cleanup:']
  const account = `'${c.replicationUser.user}'@'${c.replicationUser.host}'`
  lines.push(
    `  Replication user: ${
      c.replicationUser.action === 'dropped'
        ? `${account} dropped on the source`
        : c.replicationUser.action === 'absent'
          ? `${account} is gone already`
          : `${account} left alone: datain did not create it`
    }`,
  )
  const rules = c.firewallRules
  const ruleParts = [
    rules.deleted.length > 0 ? `deleted ${rules.deleted.join(', ')}` : '',
    rules.absent.length > 0 ? `already gone ${rules.absent.join(', ')}` : '',
    rules.left.length > 0 ? `left (delete by hand) ${rules.left.join(', ')}` : '',
    rules.changed.length > 0
      ? `left, changed since datain made them (another range) ${rules.changed.map((r) => `${r.name} (${r.startIpAddress}-${r.endIpAddress})`).join(', ')}`
      : '',
  ].filter(Boolean)
  lines.push(`  Firewall rules:   ${ruleParts.length > 0 ? ruleParts.join('; ') : 'datain created none'}`)
  if (c.parameters.length === 0) lines.push('  Server parameters: datain changed none')
  for (const parameter of c.parameters) {
    const what =
      parameter.action === 'restored'
        ? `put back to ${shownValue(parameter.previous)}`
        : parameter.action === 'already-restored'
          ? `back at ${shownValue(parameter.previous)} already`
          : `left at ${parameter.current ?? 'its value'} (changed since datain set it to ${parameter.value})`
    lines.push(`  Server parameter ${parameter.name}: ${what}`)
  }
  return lines
}

/** A server parameter's value as the cleanup names it: an empty one said so, not left blank. */
function shownValue(value: string | null | undefined): string {
  return value === '' || value === null || value === undefined ? "'' (empty)" : value
}

/** `datain skip` for people. */
export function renderSkip(skip: SkipResult): string {
  const result = terminalSafe(skip)
  const what = result.skipped.gtid ? `transaction ${result.skipped.gtid}` : `the transaction at ${result.skipped.sourceFile}:${result.skipped.sourcePosition}`
  return [
    `Skipped ${what} (error ${result.skipped.errno}) on the replica of profile '${result.profile}'; recorded in the journal.`,
    `Replication runs again${result.after.gtidSlavePos ? `, applied up to GTID ${result.after.gtidSlavePos}` : ''}.`,
  ].join('\n')
}
