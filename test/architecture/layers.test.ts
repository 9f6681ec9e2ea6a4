import {readdirSync} from 'node:fs'
import path from 'node:path'
import {ESLint} from 'eslint'
import {describe, expect, it} from 'vitest'
import {LAYERS} from '../../eslint/layers.js'

const root = path.resolve(import.meta.dirname, '../..')
const eslint = new ESLint({cwd: root})

/** The layer rule's messages for `code` as if it were the file `file` of the repository. */
async function layerErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, {filePath: path.join(root, file)})
  return result!.messages.filter((m) => m.ruleId === 'datain/layers').map((m) => m.message)
}

describe('the layers of src/ (eslint/layers.js)', () => {
  it('places every folder of src/ in a layer', () => {
    const folders = readdirSync(path.join(root, 'src'), {withFileTypes: true})
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
    expect(folders.filter((f) => !LAYERS.flat().includes(f))).toEqual([])
  })

  it('fails an upward import, a dynamic one, a re-export and an import between folders of one layer', async () => {
    expect(await layerErrors('src/lib/x.ts', "import {openSession} from '../engine/session.js'\n")).toEqual([
      'src/lib may not import src/engine: engine is a higher layer (eslint/layers.js, ARCHITECTURE.md).',
    ])
    expect(await layerErrors('src/preflight/access/x.ts', "export const m = () => import('../../steps/index.js')\n")).toHaveLength(1)
    expect(await layerErrors('src/targets/azure-mariadb/x.ts', "export {SETUP_STEPS} from '../../steps/index.js'\n")).toHaveLength(1)
    expect(await layerErrors('src/stop/x.ts', "import type {StatusReport} from '../status/status-report.js'\n")).toEqual([
      'src/stop may not import src/status: folders of the same layer stay independent (eslint/layers.js, ARCHITECTURE.md).',
    ])
  })

  it('passes imports downward, within a folder, and of packages', async () => {
    const code = [
      "import {z} from 'zod'",
      "import {DatainError} from '../../lib/errors.js'",
      "import {openTarget} from '../../targets/index.js'",
      "import {x} from './y.js'",
      'export {z, DatainError, openTarget, x}',
      '',
    ].join('\n')
    expect(await layerErrors('src/steps/sub/x.ts', code)).toEqual([])
  })

  it('holds on the tree as it is: no file of src/ imports upward', async () => {
    const results = await eslint.lintFiles(['src/**/*.ts'])
    const upward = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'datain/layers').map((m) => `${path.relative(root, r.filePath)}: ${m.message}`))
    expect(upward).toEqual([])
  })
})
