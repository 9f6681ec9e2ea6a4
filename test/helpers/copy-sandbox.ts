import {readFileSync} from 'node:fs'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import type {ServerAddress} from '../../src/lib/mariadb.js'
import {allowLoopback} from './preflight.js'

/** How datain reaches one of the sandbox's servers as its admin: TLS verified against the sandbox's CA. */
export function endpointAddress(endpoint: Sandbox['source'] | Sandbox['replica']): ServerAddress {
  return {host: endpoint.host, port: endpoint.port, user: endpoint.user, password: endpoint.password, tls: {ca: readFileSync(endpoint.sslCa, 'utf8'), verify: true}}
}

/** A sandbox without sample rows, this machine let through its gateway, and datain's addresses of its two servers: what a copy test starts from. */
export async function startCopySandbox(): Promise<{sandbox: Sandbox; source: ServerAddress; replica: ServerAddress}> {
  const sandbox = await startSandbox({sampleRows: 0})
  allowLoopback(sandbox)
  return {sandbox, source: endpointAddress(sandbox.source), replica: endpointAddress(sandbox.replica)}
}
