import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {execa} from 'execa'
import {ensureCa} from '../sandbox/tls.js'

/**
 * Creates the sandbox's CA once per test run, so that the real Azure SDK (and any other Node
 * client) in a test trusts the sandbox's HTTPS servers without a custom transport.
 *
 * Node reads NODE_EXTRA_CA_CERTS only at start-up, so setting it here does nothing for this
 * process; it works because vitest (pool 'forks', the default in vitest 4) builds each worker's
 * environment from `process.env` when it forks the worker, which happens after global setup.
 * Tests issue their server certificates from the same CA: `ensureCa(process.env.DATAIN_SANDBOX_CA_DIR!, 'azure')`
 * returns the existing one. A pool of 'threads' would not work: worker threads share this process's CA store.
 */
export default async function setup(): Promise<() => Promise<void>> {
  // Tests run the CLI users run, bin/run.js over dist/ and its oclif manifest: build both from the sources under test first.
  await execa('npm', ['run', '-s', 'build'], {cwd: path.resolve(import.meta.dirname, '..'), stdio: 'inherit'})
  const dir = await mkdtemp(path.join(os.tmpdir(), 'datain-test-ca-'))
  const ca = await ensureCa(dir, 'azure')
  await ensureCa(dir, 'source')
  process.env.NODE_EXTRA_CA_CERTS = await caBundle(dir, ca.cert)
  process.env.DATAIN_SANDBOX_CA_DIR = dir
  return async () => {
    await rm(dir, {recursive: true, force: true})
  }
}

/** Keeps a CA the user already trusts through NODE_EXTRA_CA_CERTS (a corporate proxy, say) next to ours. */
async function caBundle(dir: string, caCert: string): Promise<string> {
  const previous = process.env.NODE_EXTRA_CA_CERTS
  if (!previous) return caCert
  const bundle = path.join(dir, 'extra-ca-bundle.pem')
  const existing = await readFile(previous, 'utf8').catch(() => '')
  await writeFile(bundle, `${existing.trimEnd()}\n${await readFile(caCert, 'utf8')}`)
  return bundle
}
