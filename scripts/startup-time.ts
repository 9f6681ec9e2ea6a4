// How long `datain --help` and `datain status --help` take to start, against a bare `node -e 0`:
// warm-up runs, then N runs each, interleaved so that a busy machine slows every command alike; prints the
// median and the spread of each, and each median's ratio to node's own. Needs `npm run build` first.
//
//   npm run startup-time -- [--runs 15] [--max-ratio 3]   (exit 1 when a ratio is over --max-ratio)
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bin = path.join(root, 'bin', 'run.js')

const {values} = parseArgs({options: {runs: {type: 'string', default: '15'}, 'max-ratio': {type: 'string'}, warmup: {type: 'string', default: '3'}}})
const runs = Number(values.runs)
const warmup = Number(values.warmup)
const maxRatio = values['max-ratio'] === undefined ? undefined : Number(values['max-ratio'])

const commands: Array<{name: string; args: string[]}> = [
  {name: 'node -e 0', args: ['-e', '0']},
  {name: 'datain --help', args: [bin, '--help']},
  {name: 'datain status --help', args: [bin, 'status', '--help']},
]

function once(args: string[]): number {
  const started = performance.now()
  const result = spawnSync(process.execPath, args, {stdio: ['ignore', 'ignore', 'pipe'], env: {...process.env, COLUMNS: '80'}})
  const ms = performance.now() - started
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${String(result.stderr)}`)
  return ms
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

if (!existsSync(path.join(root, 'dist', 'commands'))) {
  console.error("dist/ is missing: run 'npm run build' first.")
  process.exit(2)
}

for (let i = 0; i < warmup; i++) for (const c of commands) once(c.args)
const times = new Map(commands.map((c) => [c.name, [] as number[]]))
for (let i = 0; i < runs; i++) for (const c of commands) times.get(c.name)!.push(once(c.args))

const base = median(times.get(commands[0]!.name)!)
console.log(`node ${process.version}, ${runs} runs each after ${warmup} warm-up runs, medians:`)
let over = false
for (const c of commands) {
  const t = times.get(c.name)!
  const m = median(t)
  const ratio = m / base
  if (maxRatio !== undefined && ratio > maxRatio) over = true
  console.log(
    `  ${c.name.padEnd(22)} ${m.toFixed(0).padStart(5)} ms  (min ${Math.min(...t).toFixed(0)}, max ${Math.max(...t).toFixed(0)})  ${ratio.toFixed(1)}× node`,
  )
}
if (over) {
  console.error(`A command took more than ${maxRatio}× the start-up of node itself.`)
  process.exitCode = 1
}
