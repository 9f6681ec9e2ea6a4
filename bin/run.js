#!/usr/bin/env node
import {existsSync} from 'node:fs'
import module from 'node:module'

// A clone of the repository (or a package built without `npm run build`) has no compiled commands:
// say what to do instead of oclif's "command not found" or a stack trace.
if (!existsSync(new URL('../dist/commands/', import.meta.url))) {
  process.stderr.write(
    `datain is not built: ${new URL('../dist/', import.meta.url).pathname} is missing. Run 'npm run build' in ${new URL('..', import.meta.url).pathname} first ` +
      '(or use bin/dev.js, which runs the TypeScript sources).\n',
  )
  process.exitCode = 1
} else {
  // Node 22.1+ caches compiled code between runs (about a third of the start-up time of --help); Node 20 has no such cache.
  module.enableCompileCache?.()

  // First, before any command code runs: the runtime workarounds of the whole process (one module, each checked
  // against the version it was written for; see src/lib/runtime-workarounds.ts).
  const {installProcessWorkarounds} = await import('../dist/lib/runtime-workarounds.js')
  installProcessWorkarounds()

  // oclif's entry points alone (what its execute() does): the full @oclif/core index loads modules --help never uses.
  const [{run}, {flush}, {handle}] = await Promise.all([import('@oclif/core/run'), import('@oclif/core/flush'), import('@oclif/core/handle')])
  await run(process.argv.slice(2), import.meta.url)
    .then(() => flush())
    .catch((error) => {
      // A mistyped command is bad usage: exit 2 as product.md says, not plugin-not-found's shell-style 127.
      if (error?.oclif?.exit === 127) error.oclif.exit = 2
      return handle(error)
    })
}
