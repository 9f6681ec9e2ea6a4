#!/usr/bin/env node
import v8 from 'node:v8'
import {execute} from '@oclif/core'

// Keep V8's young generation at its starting size (two 1 MB semi-spaces) instead of letting it grow to
// 32 MB: the snapshot copy allocates at the pace of the data, and a grown young generation held that much
// more memory for nothing (peak RSS 151 MB against 125 MB, npm run bench, 2 threads, 2026-11-30) while the
// copy ran no faster. A growth factor is read when V8 decides to grow, so it takes effect when set here; the sizes
// themselves are fixed at startup and could only come from node's command line.
v8.setFlagsFromString('--semi-space-growth-factor=1')

await execute({dir: import.meta.url})
