/**
 * The process behind `npm run sandbox -- up`: it owns the servers, the gateway and the emulated ARM,
 * records how to reach them, and takes everything down on SIGTERM/SIGINT.
 */
import {type AnySandboxOptions, startSandbox} from './sandbox.js'
import {removeRecord, writeRecord} from './registry.js'
import {describeSandbox} from './describe.js'

const name = process.argv[2] ?? 'default'
const options = JSON.parse(process.argv[3] ?? '{}') as AnySandboxOptions

const sandbox = await startSandbox({...options, target: options.target ?? 'azure-mariadb'})
let stopping = false
const shutdown = async () => {
  if (stopping) return
  stopping = true
  await sandbox.stop()
  await removeRecord(name)
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
process.on('SIGHUP', shutdown)

await writeRecord({
  name,
  pid: process.pid,
  serverPids: [sandbox.source.server.pid, sandbox.replica.server.pid],
  dir: sandbox.dir,
  startedAt: new Date().toISOString(),
  env: sandbox.env(),
  summary: describeSandbox(sandbox),
})
