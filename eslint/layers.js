import path from 'node:path'

/**
 * The layers of src/, top to bottom (ARCHITECTURE.md). A file may import from its own folder and
 * from any layer below its own; folders that share a layer never import each other, so that no two
 * folders depend on each other and each layer can be read knowing only what is under it.
 */
export const LAYERS = [
  ['commands'],
  ['ui'],
  ['profiles'],
  ['setup', 'status', 'stop', 'skip', 'accounts'],
  ['verify'],
  ['engine'],
  ['steps'],
  ['snapshot'],
  ['replication'],
  ['preflight'],
  ['targets'],
  ['azure'],
  ['state'],
  ['lib'],
]

const rankOf = new Map(LAYERS.flatMap((folders, rank) => folders.map((folder) => [folder, rank])))

/** The top folder of src/ that `file` is in, or undefined outside src/. */
function folderOf(file, srcRoot) {
  const relative = path.relative(srcRoot, file)
  if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined
  const [first, ...rest] = relative.split(path.sep)
  return rest.length > 0 ? first : undefined
}

/** @type {import('eslint').Rule.RuleModule} */
const layersRule = {
  meta: {type: 'problem', docs: {description: 'imports go only to the same folder or a lower layer of src/'}, schema: []},
  create(context) {
    const srcRoot = path.join(context.cwd, 'src')
    const from = folderOf(context.filename, srcRoot)
    if (from === undefined) return {}
    const check = (node, specifier) => {
      if (typeof specifier !== 'string' || !specifier.startsWith('.')) return
      const to = folderOf(path.resolve(path.dirname(context.filename), specifier), srcRoot)
      if (to === undefined || to === from) return
      const [a, b] = [rankOf.get(from), rankOf.get(to)]
      if (a === undefined || b === undefined) {
        context.report({node, message: `src/${a === undefined ? from : to} is in no layer: add it to LAYERS in eslint/layers.js.`})
      } else if (b <= a) {
        context.report({
          node,
          message: `src/${from} may not import src/${to}: ${b === a ? 'folders of the same layer stay independent' : `${to} is a higher layer`} (eslint/layers.js, ARCHITECTURE.md).`,
        })
      }
    }
    return {
      ImportDeclaration: (node) => check(node.source, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node.source, node.source.value),
      ExportAllDeclaration: (node) => check(node.source, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node.source, node.source.value),
    }
  },
}

export const layers = {rules: {layers: layersRule}}
