import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {renderChecks} from '../../src/ui/preflight-report.js'
import {terminalSafe, terminalText} from '../../src/ui/terminal-text.js'
import {renderStatus} from '../../src/ui/status.js'
import {STATE_EXIT_CODES, type StatusReport} from '../../src/status/status-report.js'
import {steps} from '../status/fixture.js'
import {renderAccounts} from '../../src/ui/accounts.js'
import {renderVerify} from '../../src/ui/verify.js'
import {tableLines} from '../../src/ui/table.js'
import type {VerifyResult} from '../../src/verify/result.js'

/** What a terminal acts on: C0 but LF and TAB, DEL, C1, and the bidi and line-breaking controls. */
const UNSAFE = (code: number) =>
  (code < 0x20 && code !== 0x0a && code !== 0x09) ||
  (code >= 0x7f && code <= 0x9f) ||
  [0x61c, 0x200e, 0x200f].includes(code) ||
  (code >= 0x2028 && code <= 0x202e) ||
  (code >= 0x2066 && code <= 0x2069)

const hostile = fc.string({unit: fc.oneof(fc.constantFrom('\x1b', '\r', '\x07', '\x08', '\x9b', '\u202e', '\n', '\t', '[', '2J', ']0;'), fc.string({unit: 'binary', maxLength: 3}))})

describe('server text on a terminal', () => {
  it('leaves no character a terminal would act on, but keeps new lines and tabs', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        const shown = terminalText(text)
        for (const c of shown) expect(UNSAFE(c.codePointAt(0)!)).toBe(false)
        expect(shown.split('\n').length).toBe(text.split('\n').length)
        expect(shown.split('\t').length).toBe(text.split('\t').length)
      }),
    )
  })

  it('changes nothing in text without controls, and escapes each control where it was', () => {
    fc.assert(
      fc.property(fc.string({unit: 'grapheme'}), (text) => {
        fc.pre([...text].every((c) => !UNSAFE(c.codePointAt(0)!)))
        expect(terminalText(text)).toBe(text)
      }),
    )
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({unit: 'grapheme-ascii'}), fc.constantFrom('\x1b', '\r', '\x00', '\x7f', '\x9b', '\u202e'))), (parts) => {
        // Piece by piece: every control becomes its own escape, nothing else moves.
        expect(terminalText(parts.join(''))).toBe(parts.map((p) => terminalText(p)).join(''))
      }),
    )
    expect(terminalText('a\x1b[2Jb\r\x07\x9b\u202ec\td\n')).toBe('a\\x1b[2Jb\\x0d\\x07\\x9b\\u202ec\td\n')
  })

  it('makes every string of a value safe, keys too, and leaves numbers and nulls as they are', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const safe = terminalSafe(value)
        const strings = (v: unknown): string[] =>
          typeof v === 'string' ? [v] : Array.isArray(v) ? v.flatMap(strings) : v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [k, ...strings(x)]) : []
        for (const s of strings(safe)) expect(s).toBe(terminalText(s))
      }),
    )
    expect(terminalSafe({n: 1, b: null, s: ['\x1b]0;owned\x07']})).toEqual({n: 1, b: null, s: ['\\x1b]0;owned\\x07']})
  })

  it('renders the preflight report and the status with a hostile server\'s names escaped', () => {
    const checks = renderChecks([
      {id: 'pk', title: 'Primary keys', status: 'fail', message: 'Tables without one:', offenders: ['shop.`\x1b[2J\x1b[Hfake`'], fix: 'Add one\x1b]0;title\x07'},
    ])
    expect(checks).not.toContain('\x1b')
    expect(checks).toContain('shop.`\\x1b[2J\\x1b[Hfake`')
    const status: StatusReport = {
      profile: 'default',
      state: 'broken',
      exitCode: STATE_EXIT_CODES.broken,
      summary: 'Replication stopped: error 1146: Table \'x\x1b[8m\' doesn\'t exist\rHEALTHY',
      next: null,
      maxLag: 300,
      steps: steps(7),
      replication: null,
      applyRate: null,
      eta: null,
      checkedAt: '2025-03-01T10:00:00.000Z',
    } as unknown as StatusReport
    const text = renderStatus(status, {paint: (_c, t) => `\x1b[31m${t}\x1b[0m`})
    // Only datain's own colours remain.
    const plain = text.replaceAll('\x1b[31m', '').replaceAll('\x1b[0m', '')
    expect(plain).not.toContain('\x1b')
    expect(plain).not.toContain('\r')
    expect(text).toContain("Table 'x\\x1b[8m' doesn't exist\\x0dHEALTHY")
  })
})

describe('a line feed in the servers\' text cannot start a line that reads as datain\'s', () => {
  const text = fc.string({unit: fc.oneof(fc.constantFrom('\n', '\r', '\x1b', 'PASS  ', 'FAIL', 'role ', '  ', ':'), fc.string({maxLength: 3}))})
  const unsafeIn = (shown: string) => [...shown].filter((c) => c !== '\n' && UNSAFE(c.codePointAt(0)!))

  it('in the preflight report: one line at the labels\' column per check, everything else under it', () => {
    const status = fc.constantFrom('pass', 'warn', 'fail', 'not-run', 'not-applicable') as fc.Arbitrary<'pass' | 'warn' | 'fail' | 'not-run' | 'not-applicable'>
    const check = fc.record({id: fc.constant('x'), title: fc.constantFrom('Primary keys', 'Definers'), status, message: text, offenders: fc.array(text, {maxLength: 3}), fix: text})
    fc.assert(
      fc.property(fc.uniqueArray(check, {maxLength: 6, selector: (c) => c.message}), fc.boolean(), fc.boolean(), (checks, verbose, brief) => {
        const report = renderChecks(checks, {verbose, brief})
        expect(unsafeIn(report)).toEqual([])
        const lines = report.split('\n').filter((l) => l !== '')
        const labelled = lines.filter((l) => /^ {2}(PASS|WARN|FAIL|NOT RUN|N\/A)/.test(l))
        // Each of datain's lines starts at the labels' column, the rest is indented under a check.
        for (const l of lines) expect(labelled.includes(l) || l.startsWith(' '.repeat(11))).toBe(true)
        expect(lines[0] === undefined || labelled.includes(lines[0])).toBe(true)
      }),
    )
  })

  it('in datain accounts: the accounts\' lines, a blank line and the summary; the rest indented', () => {
    const account = fc.record({
      // As run-accounts names them (quoteAccount): 'user'@'host', the server's text inside the quotes.
      account: fc.tuple(text, text).map(([user, host]) => `'${user}'@'${host}'`),
      role: fc.boolean(),
      action: fc.constantFrom('create', 'unchanged', 'differs', 'replace', 'complete', 'failed', 'skipped') as fc.Arbitrary<'create'>,
      statements: fc.array(text, {maxLength: 3}),
      leftOut: fc.array(text, {maxLength: 2}),
      differences: fc.array(text, {maxLength: 2}),
      error: fc.option(text, {nil: undefined}),
    })
    fc.assert(
      fc.property(fc.array(account, {minLength: 1, maxLength: 4}), fc.boolean(), (accounts, dryRun) => {
        const shown = renderAccounts({dryRun, accounts, exitCode: 0})
        expect(unsafeIn(shown)).toEqual([])
        const lines = shown.split('\n')
        expect(lines.filter((l) => !l.startsWith('    ')).length).toBe(accounts.length + 2)
      }),
    )
  })

  it('in datain verify: a line a table that differs, between the heading and the closing line', () => {
    const table = fc.record({table: text, rows: fc.nat(), chunks: fc.nat(), rechecks: fc.nat(), differences: fc.array(fc.dictionary(text, text, {maxKeys: 2}), {minLength: 1, maxLength: 3})})
    fc.assert(
      fc.property(fc.array(table, {minLength: 1, maxLength: 4}), (tables) => {
        const result = {identical: false, tablesCompared: tables.length, rowsCompared: 9, seconds: 1, differencesTotal: 9, tables: tables.map((t) => ({...t, differencesTotal: t.differences.length}))}
        const shown = renderVerify(result as unknown as VerifyResult)
        expect(unsafeIn(shown)).toEqual([])
        expect(shown.split('\n').length).toBe(tables.length + 2)
      }),
    )
  })

  it('in a table: a cell is one line', () => {
    expect(tableLines([['a\nb', 'c']])).toEqual(['  a\\x0ab  c'])
  })
})
