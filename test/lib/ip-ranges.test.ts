import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {classifyIpv4, firewallAddressProblem, isLocalHost, numberToIpv4, SPECIAL_PURPOSE_BLOCKS} from '../../src/lib/ip-ranges.js'
import {parseFirewallIp} from '../../src/lib/validate.js'

const inBlock = (block: (typeof SPECIAL_PURPOSE_BLOCKS)[number]) => fc.integer({min: block.first, max: block.last}).map(numberToIpv4)
const special = SPECIAL_PURPOSE_BLOCKS.filter((b) => b.kind === 'special')
const local = SPECIAL_PURPOSE_BLOCKS.filter((b) => b.kind !== 'special')
const hasControlCharacter = (text: string) => [...text].some((c) => c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f))
const anyIpv4 = fc.integer({min: 0, max: 2 ** 32 - 1}).map(numberToIpv4)
const publicIpv4 = anyIpv4.filter((ip) => classifyIpv4(ip)?.kind === 'public')

describe('addresses datain opens the firewall to', () => {
  it('refuses every address of every special-purpose block (0.0.0.0, broadcast, multicast, reserved, documentation…), local replica or not', () => {
    for (const block of special) {
      fc.assert(
        fc.property(inBlock(block), fc.boolean(), (ip, replicaLocal) => {
          expect(firewallAddressProblem(ip, replicaLocal)).toContain(block.cidr)
          expect(() => parseFirewallIp('--client-ip', ip, replicaLocal)).toThrow(expect.objectContaining({code: 'E_BAD_INPUT', exitCode: 2}))
        }),
      )
    }
    for (const ip of ['0.0.0.0', '255.255.255.255', '224.0.0.1', '240.0.0.1', '169.254.169.254', '192.0.2.1']) {
      expect(firewallAddressProblem(ip, true), ip).toBeDefined()
    }
    expect(firewallAddressProblem('0.0.0.0', true)).toContain('allow all Azure services')
  })

  it('takes loopback and private addresses only when the replica is local too', () => {
    for (const block of local) {
      fc.assert(
        fc.property(inBlock(block), (ip) => {
          expect(firewallAddressProblem(ip, true)).toBeUndefined()
          expect(firewallAddressProblem(ip, false)).toContain(block.cidr)
          expect(() => parseFirewallIp('--source-ip', ip, false)).toThrow(/--source-ip: .*public unicast/)
        }),
      )
    }
  })

  it('takes every public unicast address, whatever the replica', () => {
    fc.assert(
      fc.property(publicIpv4, fc.boolean(), (ip, replicaLocal) => {
        expect(firewallAddressProblem(ip, replicaLocal)).toBeUndefined()
        expect(parseFirewallIp('--client-ip', ip, replicaLocal)).toBe(ip)
      }),
    )
    // The edges of the blocks: the first address past each is public (or the next block).
    expect(classifyIpv4('9.255.255.255')?.kind).toBe('public')
    expect(classifyIpv4('11.0.0.0')?.kind).toBe('public')
    expect(classifyIpv4('100.128.0.0')?.kind).toBe('public')
    expect(classifyIpv4('172.32.0.0')?.kind).toBe('public')
    expect(classifyIpv4('223.255.255.255')?.kind).toBe('public')
  })

  it('refuses ranges, names, IPv6 and malformed text, flag or gateway', () => {
    const notOne = fc.oneof(
      fc.tuple(anyIpv4, fc.integer({min: 0, max: 32})).map(([ip, bits]) => `${ip}/${bits}`),
      fc.tuple(anyIpv4, anyIpv4).map(([a, b]) => `${a}-${b}`),
      fc.ipV6(),
      fc.domain(),
      fc.string(),
      fc.string({unit: 'binary'}),
      anyIpv4.map((ip) => ip.replace(/^(\d+)/, '0$1')),
    )
    fc.assert(
      fc.property(notOne, (text) => {
        expect(firewallAddressProblem(text, true)).toBeDefined()
        // The text may come from before TLS: no control character reaches a terminal.
        expect(hasControlCharacter(firewallAddressProblem(text, true)!)).toBe(false)
        expect(() => parseFirewallIp('--client-ip', text, true)).toThrow(expect.objectContaining({exitCode: 2}))
      }),
    )
  })

  it("calls a host local only when every address it resolves to is loopback or private", async () => {
    expect(await isLocalHost('127.0.0.1')).toBe(true)
    expect(await isLocalHost('10.1.2.3')).toBe(true)
    expect(await isLocalHost('20.50.1.10')).toBe(false)
    expect(await isLocalHost('localhost')).toBe(true)
    expect(await isLocalHost('no-such-host.invalid')).toBe(false)
  })
})
