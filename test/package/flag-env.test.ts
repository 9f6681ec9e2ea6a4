import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {datain} from '../helpers/datain.js'

const root = path.resolve(import.meta.dirname, '../..')

interface ManifestFlag {
  type: 'boolean' | 'option'
  env?: string
  hidden?: boolean
  summary?: string
}

/**
 * Flags a script sets without its environment variable, each for a reason: read from the
 * environment in the command itself (its summary names the variable), or a choice of what to read.
 */
const WITHOUT_ENV: Record<string, string> = {
  'stop timeout': 'DATAIN_CUTOVER_TIMEOUT, read only for a cutover (the summary names it)',
  'profiles tail': 'a choice of how much of a journal to read, made at the prompt',
}

/** The flag/environment pairs a script relies on, read from the oclif manifest the package ships. */
describe('every value flag has its DATAIN_* variable', () => {
  let manifest: {commands: Record<string, {flags: Record<string, ManifestFlag>; pluginName?: string}>}
  let home: string
  beforeAll(async () => {
    manifest = JSON.parse(await readFile(path.join(root, 'oclif.manifest.json'), 'utf8'))
    home = await mkdtemp(path.join(tmpdir(), 'datain-flag-env-'))
  })
  afterAll(() => rm(home, {recursive: true, force: true}))

  it("names a DATAIN_ variable for each visible value flag of datain's commands, one variable a meaning", () => {
    const seen = new Map<string, string[]>()
    const missing: string[] = []
    for (const [id, command] of Object.entries(manifest.commands)) {
      if (command.pluginName && command.pluginName !== 'datain') continue
      for (const [name, flag] of Object.entries(command.flags)) {
        if (flag.hidden || flag.type !== 'option') continue
        if (!flag.env) {
          if (!WITHOUT_ENV[`${id} ${name}`]) missing.push(`${id} --${name}`)
          continue
        }
        expect(flag.env, `${id} --${name}`).toMatch(/^DATAIN_[A-Z0-9_]+$/)
        seen.set(flag.env, [...(seen.get(flag.env) ?? []), name])
      }
    }
    expect(missing).toEqual([])
    // A variable shared between commands stands for the same flag in each (--profile, --databases…).
    for (const [env, names] of seen) expect(new Set(names).size, `${env}: ${names.join(', ')}`).toBe(1)
    expect(manifest.commands.stop!.flags.timeout!.summary).toContain('DATAIN_CUTOVER_TIMEOUT')
    for (const env of ['DATAIN_PARALLEL', 'DATAIN_STATUS_INTERVAL', 'DATAIN_TARGET', 'DATAIN_REPLICA_SSL', 'DATAIN_PROFILE']) expect(seen.has(env), env).toBe(true)
  })

  it('takes a variable as the flag itself: a bad value is the same usage error (exit 2) as on the command line', async () => {
    for (const [args, env] of [
      [['start', '--dry-run'], {DATAIN_PARALLEL: 'many'}],
      [['status'], {DATAIN_STATUS_INTERVAL: 'soon'}],
      [['init'], {DATAIN_TARGET: 'oracle'}],
    ] as const) {
      const result = await datain([...args], {DATAIN_HOME: home, ...env})
      expect(result.exitCode, `${Object.keys(env)[0]}: ${result.stderr}`).toBe(2)
      expect(result.stderr).not.toMatch(/\n\s+at /)
    }
  })
})
