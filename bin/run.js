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

  // The execute entry point alone: the full @oclif/core index loads modules --help never uses.
  const {execute} = await import('@oclif/core/execute')
  await execute({dir: import.meta.url})
}
