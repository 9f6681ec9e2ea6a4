import {plural} from '../lib/format.js'
import type {InitResult} from '../setup/run-init.js'
import {describeCounts} from '../preflight/run.js'
import {type CheckReportOptions, renderChecks} from './preflight-report.js'

/** `datain init`'s report: each check (passed ones counted unless verbose), the counts, what to do next. */
export function renderInit(result: InitResult, options: CheckReportOptions = {}): string {
  const {counts} = result
  const verdict = result.passed
    ? counts['not-run'] > 0
      ? `No check failed, but ${counts['not-run']} could not run yet.`
      : counts.warn > 0
        ? `No check failed; read the ${plural(counts.warn, 'warning')}, then run 'datain start'.`
        : "Every check passed: run 'datain start'."
    : `${plural(counts.fail, 'check')} failed: fix ${counts.fail === 1 ? 'it' : 'them'} and run 'datain init' again.`
  const ip = result.refusedClientIp
  const untrusted = result.untrustedClientIp
  const {manageFirewall, resourceGroup, server} = result.settings.azure
  const refused = untrusted
    ? `\nAzure's gateway refused this machine and named an address datain will not open the firewall to: ${untrusted.problem}. ` +
      `Give this machine's public IPv4 address with 'datain init --force --client-ip A.B.C.D'.`
    : !ip
    ? ''
    : manageFirewall
      ? `\nAzure's gateway refused this machine's address ${ip}: the replica's firewall has no rule for it. ` +
        `'datain start' adds one first, then runs the checks that could not run here.`
      : `\nAzure's gateway refused this machine's address ${ip}, and datain manages no firewall rule here (--no-firewall or --no-arm). ` +
        `Add one by hand, then run 'datain init' again: az mariadb server firewall-rule create --resource-group ${resourceGroup ?? 'RG'} ` +
        `--server-name ${server ?? 'SERVER'} --name datain-client --start-ip-address ${ip} --end-ip-address ${ip}`
  return [
    `Profile '${result.profile}' ${result.recorded === 'unchanged' ? 'unchanged' : result.recorded}. Preflight:`,
    renderChecks(result.checks, options),
    '',
    `${describeCounts(counts)}. ${verdict}${refused}`,
  ].join('\n')
}
