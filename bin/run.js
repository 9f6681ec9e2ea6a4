#!/usr/bin/env node
import {existsSync} from 'node:fs'
import module from 'node:module'
import v8 from 'node:v8'

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

  // Keep V8's young generation at its starting size (two 1 MB semi-spaces) instead of letting it grow to
  // 32 MB: the snapshot copy allocates at the pace of the data, and a grown young generation held that much
  // more memory for nothing (peak RSS 151 MB against 125 MB, npm run bench, 2 threads, 2026-11-30) while the
  // copy ran no faster. A growth factor is read when V8 decides to grow, so it takes effect when set here; the sizes
  // themselves are fixed at startup and could only come from node's command line. Setting it costs well under a
  // millisecond (npm run startup-time), so every command pays it rather than only start.
  v8.setFlagsFromString('--semi-space-growth-factor=1')

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
