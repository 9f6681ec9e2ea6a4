import {describe, expect, it} from 'vitest'
import type {CheckResult} from '../../src/preflight/check.js'
import {describeCounts, countByStatus} from '../../src/preflight/run.js'
import {renderChecks} from '../../src/ui/preflight-report.js'
import {renderInit} from '../../src/ui/init.js'
import type {InitResult} from '../../src/setup/run-init.js'
import type {Checkpoint} from '../../src/state/schema.js'
import {stepStatuses} from '../../src/status/setup-progress.js'
import {SETUP_STEPS} from '../../src/steps/index.js'

const checks: CheckResult[] = [
  {id: 'a', title: 'Check A', status: 'pass', message: 'A is fine.'},
  {id: 'b', title: 'Check B', status: 'pass', message: 'B is fine.'},
  {id: 'acc', title: 'Accounts', status: 'warn', message: "1 account will not exist: 'app'@'%'.", offenders: ["'app'@'%'"], fix: 'Run datain accounts.'},
  {id: 'pk', title: 'Primary keys', status: 'fail', message: 'Tables without one:', offenders: ['shop.a', 'shop.b'], fix: 'Add one.'},
  {id: 'ver', title: 'Same version', status: 'not-run', message: 'Not run: needs the replica.'},
  {id: 'az', title: 'Azure only', status: 'not-applicable', message: 'Not applicable: Azure.'},
]

/** Paints as `<color>text</>`, so that what is coloured, and how, can be read. */
const tagged = (color: string, text: string) => `<${color}>${text}</>`

describe('the preflight report', () => {
  it('counts passed and not-applicable checks on a line each, and shows every other check whole', () => {
    expect(renderChecks(checks).split('\n')).toEqual([
      '  PASS     2 checks passed (--verbose lists them)',
      '  N/A      1 check not applicable to this target (--verbose lists it)',
      '  WARN     Accounts',
      "           1 account will not exist: 'app'@'%'.",
      // The offender the message names already is not listed again below it.
      '           fix: Run datain accounts.',
      '  FAIL     Primary keys',
      '           Tables without one:',
      '           - shop.a',
      '           - shop.b',
      '           fix: Add one.',
      '  NOT RUN  Same version',
      '           Not run: needs the replica.',
    ])
  })

  it('names the checks not run for one reason together, the reason once', () => {
    const why = 'Not run: needs the replica, whose firewall does not let this machine (127.0.0.1) in yet.'
    const notRun = ['Same version', 'lower_case_table_names', 'Replica empty'].map((title, i) => ({id: `n${i}`, title, status: 'not-run' as const, message: why}))
    const other = {id: 'tier', title: 'Tier', status: 'not-run' as const, message: 'Not run: --no-arm makes no Azure Resource Manager call.'}
    expect(renderChecks([...notRun, other]).split('\n')).toEqual([
      '  NOT RUN  3 checks: Same version, lower_case_table_names and Replica empty',
      `           ${why}`,
      '  NOT RUN  Tier',
      '           Not run: --no-arm makes no Azure Resource Manager call.',
    ])
    expect(renderChecks([...notRun, other], {verbose: true}).match(/NOT RUN/g)).toHaveLength(4)
  })

  it('lists every check with --verbose, in their order', () => {
    const lines = renderChecks(checks, {verbose: true}).split('\n')
    expect(lines.filter((l) => /^ {2}\S/.test(l))).toEqual([
      '  PASS     Check A',
      '  PASS     Check B',
      '  WARN     Accounts',
      '  FAIL     Primary keys',
      '  NOT RUN  Same version',
      '  N/A      Azure only',
    ])
  })

  it("one line a check for start's preflight", () => {
    expect(renderChecks(checks, {brief: true}).split('\n')).toEqual([
      '  PASS     2 checks passed (--verbose lists them)',
      '  N/A      1 check not applicable to this target (--verbose lists it)',
      "  WARN     Accounts: 1 account will not exist: 'app'@'%'.",
      '  NOT RUN  Same version: Not run: needs the replica.',
    ])
  })

  it('colours only the outcome words, and only with a painter', () => {
    const text = renderChecks(checks, {paint: tagged, verbose: true})
    expect(text).toContain('  <green>PASS   </>  Check A')
    expect(text).toContain('  <yellow>WARN   </>  Accounts')
    expect(text).toContain('  <red>FAIL   </>  Primary keys')
    expect(text).toContain('  <gray>N/A    </>  Azure only')
    expect(text.replace(/<\/?[a-z]*>/g, '')).toBe(renderChecks(checks, {verbose: true}))
    expect(renderChecks(checks, {verbose: true})).not.toContain('\x1b')
  })

  it('says every count in one vocabulary: "1 warning", never "1 warnings"', () => {
    const counts = countByStatus(checks)
    expect(describeCounts(counts)).toBe('2 passed, 1 warning, 1 failed, 1 not run, 1 not applicable')
    expect(describeCounts({...counts, warn: 2, 'not-applicable': 0})).toBe('2 passed, 2 warnings, 1 failed, 1 not run')
    expect(describeCounts({pass: 24, warn: 0, fail: 0, 'not-run': 0, 'not-applicable': 1}, true)).toBe('24 passed, 1 not applicable')
    const init = renderInit({
      profile: 'p',
      recorded: 'created',
      passed: false,
      counts,
      checks,
      settings: {azure: {manageFirewall: true}},
    } as unknown as InitResult)
    expect(init).toContain('2 passed, 1 warning, 1 failed, 1 not run, 1 not applicable. 1 check failed')
  })
})

describe("status's preflight line", () => {
  it('counts as init does: what passed, warned, did not apply', () => {
    const at = (s: number) => new Date(Date.UTC(2025, 2, 1, 10, 0, s)).toISOString()
    const output = {passed: 24, counts: {pass: 24, warn: 2, fail: 0, 'not-run': 0, 'not-applicable': 1}, warnings: ['definers', 'accounts'], createdRules: []}
    const checkpoint = {version: 1, steps: {preflight: {state: 'done', startedAt: at(0), finishedAt: at(2), output}}} as unknown as Checkpoint
    const [preflight] = stepStatuses(SETUP_STEPS, checkpoint, undefined, new Date(at(10)))
    // It once said "24 checks passed" of what init listed as 27, and the plan as 22.
    expect(preflight?.summary).toBe('checks: 24 passed, 2 warnings, 1 not applicable; warnings: definers, accounts')
  })
})
