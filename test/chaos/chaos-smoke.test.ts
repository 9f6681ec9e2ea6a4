import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {badInputGroup} from '../../scripts/chaos/bad-input.js'
import {hostileGroup} from '../../scripts/chaos/hostile.js'
import type {AzureSandbox} from '../../sandbox/sandbox.js'
import {type Env, type Group, newEnv} from '../../scripts/chaos/lib.js'
import {secretsAndPrivilegeGroups} from '../../scripts/chaos/secrets.js'

/**
 * The small version of `npm run chaos` (groups 3 to 6): a few bad inputs, the argv poll during a
 * whole start, the scan of outputs and state for passwords, the replication user's grants (on one
 * sandbox), and a hostile source copied by both engines (on sandboxes of its own). The full run
 * (kills, servers failing, every bad input, hostile names, more hostile objects) is `npm run chaos`.
 */

let e: Env<AzureSandbox>
let secretsHome: string

beforeAll(async () => {
  e = await newEnv({sampleRows: 100})
  secretsHome = await mkdtemp(path.join(tmpdir(), 'datain-chaos-secrets-'))
})

afterAll(async () => {
  await e?.sandbox.stop()
  await rm(e?.home, {recursive: true, force: true})
  await rm(secretsHome, {recursive: true, force: true})
})

const failures = (g: Group) => g.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? ''}`)

describe('chaos smoke', () => {
  it('bad input: one paragraph, the exit code, nothing changed on any server', async () => {
    const group = await badInputGroup({full: false, env: e})
    expect(failures(group)).toEqual([])
    expect(group.passed).toBeGreaterThanOrEqual(10)
  })

  it('secrets and least privilege: no password in argv, outputs or state; REPLICATION SLAVE only', async () => {
    const groups = await secretsAndPrivilegeGroups({full: false, env: {...e, home: secretsHome, env: {...e.env, DATAIN_HOME: secretsHome}}})
    for (const group of groups) expect(failures(group), group.name).toEqual([])
    expect(groups[1]!.passed).toBe(3)
  })

  it('hostile source: objects whose bodies attack the copy arrive byte-identical with both engines, and nothing else is created', async () => {
    const group = await hostileGroup({seed: 4242, objects: 25})
    expect(failures(group)).toEqual([])
    expect(group.passed).toBe(12)
  }, 300_000)
})
