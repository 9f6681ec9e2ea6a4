// The command reference of README.md (between <!-- commands --> and <!-- commandsstop -->), generated
// from the built commands by `oclif readme`. `npm run readme` rewrites it; `--check` only compares and
// exits 1 when it is out of date (test/package/readme.test.ts). Needs `npm run build` first: oclif reads
// the commands from dist/ and oclif.manifest.json.
//
//   tsx scripts/readme.ts [--check] [--readme PATH]
import {execa} from 'execa'
import {copyFile, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const START = '<!-- commands -->'
const END = '<!-- commandsstop -->'

/** README text with the command reference regenerated; the rest of the file untouched. */
export async function regenerate(readmePath: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'datain-readme-'))
  try {
    const copy = path.join(dir, 'README.md')
    await copyFile(readmePath, copy)
    await execa(path.join(root, 'node_modules', '.bin', 'oclif'), ['readme', '--no-source-links', '--readme-path', copy], {
      cwd: root,
      // Help is wrapped to the terminal's width: fixed here so that the text is the same on every machine.
      env: {COLUMNS: '80', OCLIF_COLUMNS: '80', NO_COLOR: '1', OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
    })
    return demoteHeadings(await readFile(copy, 'utf8'))
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}

/** oclif writes each command as `## …`; in README.md they sit under "## Command reference". */
function demoteHeadings(text: string): string {
  const start = text.indexOf(START)
  const end = text.indexOf(END)
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} … ${END} section`)
  const section = text.slice(start, end).replace(/^## /gm, "### ")
  return text.slice(0, start) + section + text.slice(end)
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const at = args.indexOf('--readme')
  const readmePath = at >= 0 && args[at + 1] ? path.resolve(args[at + 1]!) : path.join(root, 'README.md')
  const current = await readFile(readmePath, 'utf8')
  const fresh = await regenerate(readmePath)
  if (!args.includes('--check')) {
    if (fresh !== current) await writeFile(readmePath, fresh)
    console.log(fresh === current ? `${readmePath}: command reference already current` : `${readmePath}: command reference regenerated`)
    return
  }
  if (fresh !== current) {
    console.error(`${readmePath}: the command reference is out of date with the commands. Run 'npm run build && npm run readme' and commit README.md.`)
    process.exitCode = 1
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
