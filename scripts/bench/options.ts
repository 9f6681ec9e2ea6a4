/**
 * The bench's command line, parsed without side effects so that a test can feed it bad values:
 * every refusal is one line (a {@link BenchUsageError}), which `scripts/bench.ts` prints before exiting 2.
 */
import {availableParallelism} from 'node:os'
import {parseArgs} from 'node:util'

export const METHODS = ['manual', 'pipe', 'mydumper', 'datain', 'limit'] as const
export type Method = (typeof METHODS)[number]
export const DEFAULT_POINTS = [500, 1000, 2000, 5000]

export const USAGE =
  'usage: npm run bench -- [--tables 8] [--rows 200000] [--threads N] [--methods manual,pipe,mydumper,datain,limit] [--repeat 1] [--verify] [--pin-replica]\n' +
  '       npm run bench -- --curve [--rows 5] [--points 500,1000,2000,5000] [--threads N]'

export interface BenchOptions {
  tables: number
  rows: number
  threads: number
  /** --threads was given: the verify bench then passes it as --parallel, else verify runs with its own default. */
  threadsGiven: boolean
  methods: Method[]
  repeat: number
  verify: boolean
  /** --pin-replica: the replica's server on cores of its own (scripts/bench/pin.ts). */
  pinReplica: boolean
  /** --curve: the numbers of tables, each copied by datain into a fresh replica database. */
  curve?: number[]
  help: boolean
}

export class BenchUsageError extends Error {}

export function parseBenchArgs(argv: string[], cores = availableParallelism()): BenchOptions {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        tables: {type: 'string'},
        rows: {type: 'string'},
        threads: {type: 'string'},
        methods: {type: 'string'},
        repeat: {type: 'string'},
        curve: {type: 'boolean'},
        points: {type: 'string'},
        help: {type: 'boolean', short: 'h'},
        verify: {type: 'boolean'},
        'pin-replica': {type: 'boolean'},
      },
    }).values
  } catch (error) {
    // node's own message on one line, without its advice on positionals (the bench takes none).
    throw new BenchUsageError(String((error as Error).message).replace(/\. To specify a positional.*$/s, '.').split('\n').join(' '))
  }
  const text = (name: string) => values[name] as string | undefined
  // datain's own default on this machine (one thread per core, 2 to 8); the sandbox has connections to spare.
  const threads = text('threads') === undefined ? Math.min(8, Math.max(2, cores)) : positiveInteger('threads', text('threads')!)
  const common = {threads, threadsGiven: text('threads') !== undefined, help: values.help === true, verify: values.verify === true, pinReplica: values['pin-replica'] === true}
  if (values.curve) {
    for (const name of ['tables', 'methods', 'repeat', 'verify']) {
      if (values[name] !== undefined) throw new BenchUsageError(`--curve takes its numbers of tables from --points and runs datain only: leave out --${name}`)
    }
    return {...common, curve: points(text('points') ?? DEFAULT_POINTS.join(',')), tables: 0, rows: positiveInteger('rows', text('rows') ?? '5'), methods: ['datain'], repeat: 1}
  }
  if (text('points') !== undefined) throw new BenchUsageError('--points goes with --curve')
  return {
    ...common,
    tables: positiveInteger('tables', text('tables') ?? '8'),
    rows: positiveInteger('rows', text('rows') ?? '200000'),
    repeat: positiveInteger('repeat', text('repeat') ?? '1'),
    methods: methods(text('methods') ?? METHODS.join(',')),
  }
}

function methods(list: string): Method[] {
  const chosen = list.split(',').map((m) => m.trim())
  for (const m of chosen) {
    if (!(METHODS as readonly string[]).includes(m)) throw new BenchUsageError(`--methods: unknown method '${printable(m)}': choose among ${METHODS.join(', ')}`)
  }
  const twice = chosen.find((m, i) => chosen.indexOf(m) !== i)
  if (twice !== undefined) throw new BenchUsageError(`--methods names '${twice}' twice (--repeat runs each method again)`)
  return chosen as Method[]
}

function points(list: string): number[] {
  const numbers = list.split(',').map((p) => positiveInteger('points', p.trim()))
  for (let i = 1; i < numbers.length; i++) {
    if (numbers[i]! <= numbers[i - 1]!) throw new BenchUsageError(`--points must grow from one number of tables to the next, not '${printable(list)}'`)
  }
  return numbers
}

/** Digits only: Number() would take '1e3', '0x10', ' 5' and '' (0) too. */
function positiveInteger(name: string, value: string): number {
  const n = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN
  if (!(n >= 1)) throw new BenchUsageError(`--${name} takes a whole number of at least 1, not '${printable(value)}'`)
  return n
}

/** A value as one line of the terminal's text: control characters as '?', cut at 40. */
function printable(value: string): string {
  const shown = [...value].map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? '?' : c)).join('')
  return shown.length > 40 ? `${shown.slice(0, 40)}…` : shown
}
