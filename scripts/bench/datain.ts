/** datain as users run it: `node bin/run.js init`, then `start --json` in a process of its own. */
import {execa} from 'execa'
import {mkdtemp, readFile} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {fileURLToPath} from 'node:url'
import type {Sandbox} from '../../sandbox/sandbox.js'
import {DATABASE} from './data.js'
import type {Measured} from './report.js'

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Builds dist/: datain runs as users run it (node bin/run.js). */
export async function buildDatain(): Promise<void> {
  console.log('building dist/ (datain runs as users run it: node bin/run.js)…')
  await execa('npm', ['run', '-s', 'build'], {cwd: root, stdio: 'inherit'})
}

/**
 * `node args…` in a process of its own, with `env` only: its result, its seconds until it ended, and
 * its peak RSS (VmHWM, sampled every 100 ms from /proc).
 */
export async function runMeasured(args: string[], env: Record<string, string | undefined>) {
  const started = performance.now()
  const child = execa(process.execPath, args, {env, extendEnv: false, reject: false})
  let peakKb = 0
  const sampling = (async () => {
    while (child.exitCode === null && child.signalCode === null) {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '')
      peakKb = Math.max(peakKb, Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0))
      await sleep(100)
    }
  })()
  const result = await child
  const seconds = (performance.now() - started) / 1000
  await sampling
  return {result, seconds, peakRssMb: peakKb / 1024}
}

/**
 * datain init + datain start in a child process of its own; the whole start's seconds, the
 * snapshot step's and the copy's inside it, and the process's peak RSS (VmHWM, sampled every 100 ms).
 */
export async function runDatain(sandbox: Sandbox, work: string, threads: number): Promise<Measured> {
  const home = await mkdtemp(path.join(work, 'home-'))
  const env = {PATH: process.env.PATH, HOME: process.env.HOME, ...sandbox.env(), DATAIN_HOME: home}
  const cli = path.join(root, 'bin', 'run.js')
  const init = await execa(process.execPath, [cli, 'init', '--databases', DATABASE], {env, extendEnv: false, reject: false})
  if (init.exitCode !== 0) throw new Error(`datain init exited ${init.exitCode}: ${init.stderr || init.stdout}`)
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  const {result, seconds: wholeSeconds, peakRssMb} = await runMeasured([...nodeArgs, cli, 'start', '--json', '--parallel', String(threads)], env)
  if (result.exitCode !== 0) throw new Error(`datain start exited ${result.exitCode}: ${result.stderr.split('\n').slice(-5).join(' ')}`)
  // start --json streams its events first, one a line: the result is the last line.
  const report = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as {steps: Array<{id: string; seconds?: number; output?: Record<string, unknown>}>}
  const snapshot = report.steps.find((s) => s.id === 'snapshot')
  const output = snapshot?.output ?? {}
  const held = `commits held ${String(output.writesHeldMs)} ms (${String(output.snapshotMethod)})`
  const steps = report.steps.filter((s) => s.seconds !== undefined && s.seconds >= 0.05).map((s) => `${s.id} ${s.seconds!.toFixed(1)}`)
  return {
    seconds: wholeSeconds,
    peakRssMb,
    snapshotSeconds: snapshot?.seconds,
    copySeconds: typeof output.seconds === 'number' ? output.seconds : undefined,
    otherStepsSeconds: report.steps.filter((s) => s.id !== 'snapshot').reduce((sum, s) => sum + (s.seconds ?? 0), 0),
    note:
      `whole datain start --parallel ${threads} (steps, s: ${steps.join(', ')}; the copy ${Number(output.seconds).toFixed(1)} s, ${megabytes(Number(output.bytes))} MB of LOAD DATA sent, of the snapshot step ${snapshot?.seconds?.toFixed(1)} s): ` +
      `${String(output.threads)} threads, ${held}; peak RSS of the datain process (VmHWM)`,
  }
}

/** MB with a decimal below 10 (a curve's small tables send a few MB). */
function megabytes(bytes: number): string {
  const mb = bytes / 1024 / 1024
  return mb.toFixed(mb < 10 ? 1 : 0)
}
