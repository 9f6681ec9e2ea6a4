import type {FirewallRule} from '@azure/arm-mariadb'
import {isIP} from 'node:net'
import {armCall} from '../../azure/arm.js'
import type {Check} from '../check.js'
import {plural} from '../../lib/format.js'

/** datain names its rules `datain-<profile>-source` and `datain-<profile>-client`. */
const DATAIN_PREFIX = 'datain-'

/**
 * Could datain's firewall rule names clash with rules it did not create? The profile name is not
 * known here, so any `datain-…` rule that is not datain's own (from the checkpoint) is reported.
 */
export const firewallRules: Check = {
  id: 'firewall-rules',
  title: "Replica firewall rules",
  needs: ['arm'],
  targets: ['azure-mariadb'],
  async run(ctx) {
    if (!ctx.settings.manageFirewall) {
      return {status: 'pass', message: "Not needed: with --no-firewall datain leaves the replica's firewall rules alone."}
    }
    const arm = ctx.arm!
    const rules = await armCall(arm.target, `list the firewall rules of '${arm.target.server}'`, async () => {
      const all: FirewallRule[] = []
      for await (const rule of arm.client.firewallRules.listByServer(arm.target.resourceGroup, arm.target.server)) all.push(rule)
      return all
    })
    const own = new Set(ctx.own.firewallRules.map((n) => n.toLowerCase()))
    // ARM resource names are case-insensitive.
    const foreign = rules.filter((r) => r.name?.toLowerCase().startsWith(DATAIN_PREFIX) && !own.has(r.name.toLowerCase()))

    const host = ctx.settings.sourcePublicHost
    let coverage: string
    if (isIP(host) === 4) {
      const covering = rules.filter((r) => ipv4(r.startIpAddress) <= ipv4(host) && ipv4(host) <= ipv4(r.endIpAddress)).map((r) => `'${r.name}'`)
      coverage =
        covering.length > 0
          ? `${covering.join(', ')} already ${covering.length === 1 ? 'covers' : 'cover'} the source's address ${host} (an existing rule covering the address is reused)`
          : `none covers the source's address ${host}, so datain will add one`
    } else {
      coverage = `the source's public host ${host} is not an IPv4 address, so datain resolves it when it adds the rule`
    }
    const count = `The replica has ${plural(rules.length, 'firewall rule')}`
    if (foreign.length === 0) {
      return {status: 'pass', message: `${count}, none named like datain's that datain did not create; ${coverage}.`}
    }
    return {
      status: 'warn',
      message: `${count}; ${plural(foreign.length, 'rule')} named like datain's ${foreign.length === 1 ? 'was' : 'were'} not created by this setup and may clash with its rule names (datain-<profile>-source, datain-<profile>-client); ${coverage}.`,
      fix:
        `If one is named after this profile, delete it (az mariadb server firewall-rule delete --resource-group ${arm.target.resourceGroup} ` +
        `--server-name ${arm.target.server} --name <rule>) or use another --profile; rules of other datain profiles can stay: datain only removes its own.`,
      offenders: foreign.map((r) => `${r.name} (${r.startIpAddress}-${r.endIpAddress})`),
    }
  },
}

function ipv4(ip: string): number {
  const parts = ip.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return Number.NaN
  return parts.reduce((n, p) => n * 256 + p, 0)
}
