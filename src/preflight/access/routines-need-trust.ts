import {isOn, quoteQualified} from '../../lib/sql.js'
import type {Check} from '../check.js'
import {describeDatabases, plural} from '../../lib/format.js'
import {selectedObjects} from './objects.js'
import {armParameter, setByHand} from './server-parameters.js'

const PARAMETER = 'log_bin_trust_function_creators'

/**
 * Stored functions and triggers restore on a replica with binary logging only when the creator has
 * SUPER or log_bin_trust_function_creators is ON (else error 1419); Azure's admin has no SUPER.
 * Procedures and events are not concerned.
 */
export const routinesNeedTrust: Check = {
  id: 'routines-need-trust',
  title: 'Functions and triggers can be restored on the replica',
  needs: [],
  async run(ctx) {
    const objects = (await selectedObjects(ctx)).filter((o) => o.kind === 'FUNCTION' || o.kind === 'TRIGGER')
    const where = describeDatabases(ctx.databases)
    if (objects.length === 0) {
      return {status: 'pass', message: `No stored function or trigger in ${where}: ${PARAMETER} is not needed.`}
    }
    const functions = objects.filter((o) => o.kind === 'FUNCTION').length
    const triggers = objects.length - functions
    const counted = [functions > 0 ? plural(functions, 'stored function') : '', triggers > 0 ? plural(triggers, 'trigger') : '']
    const what = `the ${counted.filter(Boolean).join(' and ')} in ${where}`
    const offenders = objects.map((o) => `${o.kind} ${quoteQualified(o.database, o.name)}`)

    if (ctx.settings.target === 'mariadb') {
      return {status: 'pass', message: `datain will SET GLOBAL ${PARAMETER} = ON on the replica before the snapshot unless it is ON already, as ${what} ${objects.length === 1 ? 'needs' : 'need'}.`}
    }

    if (ctx.arm) {
      const parameter = await armParameter(ctx.arm, PARAMETER)
      if (!parameter) {
        return {
          status: 'fail',
          message: `The replica's server '${ctx.arm.target.server}' offers no ${PARAMETER} parameter through ARM, and ${what} cannot be restored without it (error 1419).`,
          fix: `Leave the functions and triggers out of the copy (recreate them after the snapshot as the replica admin), or ask Azure support to set ${PARAMETER}=ON on the server.`,
          offenders,
        }
      }
      return {
        status: 'pass',
        message: isOn(parameter.value)
          ? `${PARAMETER} is already ON on the replica (through ARM), as ${what} ${objects.length === 1 ? 'needs' : 'need'}.`
          : `datain will set ${PARAMETER}=ON through ARM before the snapshot (now ${parameter.value ?? 'unset'}), as ${what} ${objects.length === 1 ? 'needs' : 'need'}.`,
      }
    }

    if (!ctx.replica) {
      return {
        status: 'not-run',
        message: `Not run: with --no-arm datain reads ${PARAMETER} on the replica itself, and ${ctx.replicaUnavailable ?? 'the replica is not reachable'}.`,
      }
    }
    const [row] = await ctx.replica.query<Array<{value: number}>>(`SELECT @@global.${PARAMETER} AS value`)
    if (isOn(row!.value)) {
      return {status: 'pass', message: `${PARAMETER} is ON on the replica, as ${what} ${objects.length === 1 ? 'needs' : 'need'}.`}
    }
    return {
      status: 'fail',
      message: `${PARAMETER} is OFF on the replica, so restoring ${what} fails with error 1419 (the admin has no SUPER), and with --no-arm datain does not set it.`,
      fix: `Set ${PARAMETER} to ON on the replica by hand, ${setByHand([PARAMETER], 'ON')}; then run datain again.`,
      offenders,
    }
  },
}
