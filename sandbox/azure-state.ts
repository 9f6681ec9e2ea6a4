import {isIP} from 'node:net'

/** Pricing tiers as ARM spells them (`sku.tier`). Data-in Replication needs one of the last two. */
export type SkuTier = 'Basic' | 'GeneralPurpose' | 'MemoryOptimized'

export interface FirewallRule {
  name: string
  startIpAddress: string
  endIpAddress: string
}

/**
 * What the emulated Azure control plane knows about the replica server: its tier and its firewall
 * rules. The emulated ARM endpoint changes it; the emulated gateway reads it on every connection.
 */
export class AzureServerState {
  tier: SkuTier = 'GeneralPurpose'
  readonly firewallRules = new Map<string, FirewallRule>()

  /** True when a firewall rule's range covers `ip` (IPv4; an IPv4-mapped IPv6 address counts as IPv4). */
  isAllowed(ip: string): boolean {
    const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip
    if (isIP(v4) !== 4) return false
    const n = ipv4ToNumber(v4)
    for (const rule of this.firewallRules.values()) {
      if (ipv4ToNumber(rule.startIpAddress) <= n && n <= ipv4ToNumber(rule.endIpAddress)) return true
    }
    return false
  }
}

export function ipv4ToNumber(ip: string): number {
  const parts = ip.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return Number.NaN
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!
}
