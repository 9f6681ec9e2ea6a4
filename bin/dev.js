#!/usr/bin/env -S node --import tsx
// Runs datain from its TypeScript sources through tsx. The oclif path mapping from dist to src cannot
// register the tsx release pinned here, so the commands are pointed at src directly.
import {execute, settings} from '@oclif/core'
import {readFileSync, rmSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
pjson.oclif.commands = './src/commands'
settings.enableAutoTranspile = false
// oclif takes every command's flags and help from oclif.manifest.json when there is one, and the one
// `npm run build` wrote describes dist/ as it was then, not the sources run here: it goes (the next build
// writes it again).
rmSync(new URL('../oclif.manifest.json', import.meta.url), {force: true})

await execute({development: process.env.NODE_ENV !== 'test', dir: import.meta.url, loadOptions: {root, pjson}})
