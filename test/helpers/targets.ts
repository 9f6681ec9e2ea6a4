import type {AnySandbox, SandboxTarget} from '../../sandbox/sandbox.js'

/** Every replica target datain has: workflow tests run for each (`describe.each(TARGETS)`). */
export const TARGETS: readonly SandboxTarget[] = ['azure-mariadb', 'mariadb']

/**
 * What a user of this sandbox exports to reach it with datain: the sandbox's own variables, and for
 * a plain replica the source's CA as a file on the replica's host (the same machine here), so that
 * the link verifies the source.
 */
export function targetEnv(sandbox: AnySandbox, home: string): Record<string, string> {
  return {...sandbox.env(), DATAIN_HOME: home, ...(sandbox.target === 'mariadb' ? {DATAIN_LINK_SSL_CA: sandbox.source.sslCa} : {})}
}

/** The secrets a sandbox hands out: none may show in datain's output or files. */
export function sandboxSecrets(sandbox: AnySandbox): string[] {
  return [sandbox.source.password, sandbox.replica.password, ...(sandbox.target === 'azure-mariadb' ? [sandbox.azure.token] : [])]
}
