import {execa} from 'execa'
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import type {StatusReport} from '../../src/status/status-report.js'

const root = path.resolve(import.meta.dirname, '../..')

/**
 * The package as users get it: `npm pack` (of what global setup built), installed into an empty folder,
 * and a whole setup run through the installed `datain` binary against the sandbox. Installing needs the
 * npm registry or npm's cache (the same as `npm ci`).
 */
describe('the packed tarball', () => {
  let dir: string
  let files: string[]
  let installed: string

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'datain-tarball-'))
    // --ignore-scripts: pack what global setup just built instead of building it a second time.
    const pack = await execa('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {cwd: root})
    const [info] = JSON.parse(pack.stdout) as Array<{filename: string; files: Array<{path: string}>}>
    files = info!.files.map((f) => f.path)
    const app = path.join(dir, 'app')
    await execa('mkdir', [app])
    await writeFile(path.join(app, 'package.json'), '{"private": true}\n')
    await execa('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=dev', path.join(dir, info!.filename)], {cwd: app})
    installed = path.join(app, 'node_modules', '.bin', 'datain')
  }, 300_000)

  afterAll(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  const run = (args: string[], env: Record<string, string> = {}) =>
    execa(installed, args, {env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env}, extendEnv: false, reject: false, cwd: dir, stdin: 'ignore'})

  it('holds the built CLI, its manifest, LICENSE and CHANGELOG, and no source map, source or dev entry point', () => {
    for (const file of ['bin/run.js', 'oclif.manifest.json', 'LICENSE', 'CHANGELOG.md', 'README.md', 'package.json', 'dist/commands/profiles.js']) {
      expect(files).toContain(file)
    }
    expect(files.filter((f) => f.endsWith('.map') || f === 'bin/dev.js' || /^(src|test|sandbox|scripts)\//.test(f))).toEqual([])
  })

  it('answers --help from the installed binary', async () => {
    const help = await run(['--help'])
    expect(help.exitCode, help.stderr).toBe(0)
    expect(help.stdout).toMatch(/COMMANDS[\s\S]*profiles[\s\S]*status/)
    expect((await readdir(path.join(dir, 'app', 'node_modules', 'datain', 'dist', 'commands'))).sort()).toContain('init.js')
    // A manifest built with NODE_ENV=test under Node 22+ pointed oclif at src/commands/*.ts, which the package does not hold.
    const manifest = JSON.parse(await readFile(path.join(dir, 'app', 'node_modules', 'datain', 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, {relativePath?: string[]}>
    }
    for (const [id, command] of Object.entries(manifest.commands)) expect([id, command.relativePath?.[0]]).toEqual([id, 'dist'])
  })

  describe('a whole setup through the installed binary', () => {
    let sandbox: Sandbox
    let home: string
    beforeAll(async () => {
      sandbox = await startSandbox({sampleRows: 200})
      home = await mkdtemp(path.join(tmpdir(), 'datain-tarball-home-'))
    })
    afterAll(async () => {
      await sandbox?.stop()
      await rm(home, {recursive: true, force: true})
    })

    it('init, start, status', async () => {
      const env = {...sandbox.env(), DATAIN_HOME: home}
      const init = await run(['init'], env)
      expect(init.exitCode, init.stderr).toBe(0)
      const start = await run(['start'], env)
      expect(start.exitCode, start.stderr).toBe(0)
      const status = await run(['status', '--json'], env)
      expect(status.exitCode, status.stderr).toBe(0)
      expect((JSON.parse(status.stdout) as StatusReport).exitCode).toBe(0)
      const profiles = await run(['profiles'], env)
      expect(profiles.stdout).toContain('replicating (setup done)')
    })
  })
})
