import {execa} from 'execa'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {BenchUsageError, DEFAULT_POINTS, parseBenchArgs} from '../../scripts/bench/options.js'
import {split} from '../../scripts/bench/limit.js'

/** No server: the bench's command line, and how its limit cuts LOAD DATA text into statements. */

const refused = (argv: string[]) => {
  try {
    parseBenchArgs(argv, 2)
  } catch (error) {
    expect(error).toBeInstanceOf(BenchUsageError)
    return (error as Error).message
  }
  throw new Error(`accepted: ${argv.join(' ')}`)
}

describe('bench arguments', () => {
  it('takes the defaults, a curve, and the limit among the methods', () => {
    expect(parseBenchArgs([], 2)).toMatchObject({tables: 8, rows: 200_000, threads: 2, threadsGiven: false, repeat: 1, methods: ['manual', 'pipe', 'mydumper', 'datain', 'limit']})
    expect(parseBenchArgs(['--methods', 'datain, limit', '--threads', '4'], 16)).toMatchObject({methods: ['datain', 'limit'], threads: 4, threadsGiven: true})
    expect(parseBenchArgs([], 16).threads).toBe(8)
    expect(parseBenchArgs([], 2).pinReplica).toBe(false)
    expect(parseBenchArgs(['--pin-replica', '--methods', 'datain,limit'], 2)).toMatchObject({pinReplica: true, methods: ['datain', 'limit']})
    expect(parseBenchArgs(['--curve'], 2)).toMatchObject({curve: DEFAULT_POINTS, rows: 5, methods: ['datain']})
    expect(parseBenchArgs(['--curve', '--rows', '50', '--points', '100,300'], 2)).toMatchObject({curve: [100, 300], rows: 50})
  })

  it.each([
    [['--rows', 'abc'], "--rows takes a whole number of at least 1, not 'abc'"],
    [['--rows', '1e3'], "--rows takes a whole number of at least 1, not '1e3'"],
    [['--tables', '0'], "--tables takes a whole number of at least 1, not '0'"],
    [['--tables=-3'], "--tables takes a whole number of at least 1, not '-3'"],
    [['--tables', '-3'], "Option '--tables' argument is ambiguous. Did you forget to specify the option argument for '--tables'? To specify an option argument starting with a dash use '--tables=-XYZ'."],
    [['--threads', ''], "--threads takes a whole number of at least 1, not ''"],
    [['--repeat', '99999999999999999999'], "--repeat takes a whole number of at least 1, not '99999999999999999999'"],
    [['--methods', 'datain,drop'], "--methods: unknown method 'drop': choose among manual, pipe, mydumper, datain, limit"],
    [['--methods', 'datain,'], "--methods: unknown method '': choose among manual, pipe, mydumper, datain, limit"],
    [['--methods', 'limit,limit'], "--methods names 'limit' twice (--repeat runs each method again)"],
    [['--methods', 'x\n\u001b[2Jy'], "--methods: unknown method 'x??[2Jy': choose among manual, pipe, mydumper, datain, limit"],
    [['--curve', '--tables', '10'], '--curve takes its numbers of tables from --points and runs datain only: leave out --tables'],
    [['--curve', '--methods', 'datain'], '--curve takes its numbers of tables from --points and runs datain only: leave out --methods'],
    [['--curve', '--points', '500,500'], "--points must grow from one number of tables to the next, not '500,500'"],
    [['--curve', '--points', '500,,1000'], "--points takes a whole number of at least 1, not ''"],
    [['--points', '5'], '--points goes with --curve'],
    [['--nope'], "Unknown option '--nope'"],
  ])('refuses %j in one line', (argv, message) => {
    expect(refused(argv)).toBe(message)
    expect(message).not.toContain('\n')
  })

  it('prints the refusal as one line on stderr and exits 2, before any server starts', async () => {
    const root = path.resolve(import.meta.dirname, '..', '..')
    const result = await execa(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/bench.ts', '--rows', 'lots'], {cwd: root, reject: false})
    expect(result.exitCode).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe("bench: --rows takes a whole number of at least 1, not 'lots' (npm run bench -- --help)")
  })
})

describe("the limit's statements", () => {
  it('cuts at whole lines of at least the size asked, never at an escaped newline', () => {
    const text = Buffer.from('1\ta\n2\tb\\\nc\n3\td\\\\\n4\te\n')
    const pieces = split(text, 5)
    expect(pieces.map((p) => p.bytes.toString())).toEqual(['1\ta\n2\tb\\\nc\n', '3\td\\\\\n', '4\te\n'])
    expect(pieces.map((p) => p.rows)).toEqual([2, 1, 1])
    expect(Buffer.concat(pieces.map((p) => p.bytes)).equals(text)).toBe(true)
    expect(split(Buffer.from('1\n2'), 1_000).map((p) => p.rows)).toEqual([2])
    expect(split(Buffer.alloc(0), 10)).toEqual([])
  })
})
