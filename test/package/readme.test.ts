import {execa} from 'execa'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

const root = path.resolve(import.meta.dirname, '../..')

/** README.md's command reference is what the built commands say (global setup builds them and the manifest). */
describe('README command reference', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'datain-readme-test-'))
  })
  afterAll(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  const check = (readme: string) => execa('npx', ['tsx', 'scripts/readme.ts', '--check', '--readme', readme], {cwd: root, reject: false})

  it('is current', async () => {
    const result = await check(path.join(root, 'README.md'))
    expect(result.stderr).toBe('')
    expect(result.exitCode).toBe(0)
    const readme = await readFile(path.join(root, 'README.md'), 'utf8')
    for (const command of ['init', 'start', 'status', 'stop', 'skip', 'profiles']) expect(readme).toContain(`### \`datain ${command}`)
  })

  it('is reported out of date when a command changed since', async () => {
    const stale = path.join(dir, 'README.md')
    const readme = await readFile(path.join(root, 'README.md'), 'utf8')
    // Changed inside the generated section only (the prose elsewhere names the variable too).
    const at = readme.indexOf('<!-- commands -->')
    await writeFile(stale, readme.slice(0, at) + readme.slice(at).replace('DATAIN_STATUS_INTERVAL', 'DATAIN_INTERVAL'))
    const result = await check(stale)
    expect(result.exitCode).toBe(1)
    expect(result.stderr).toContain('out of date')
  })
})
