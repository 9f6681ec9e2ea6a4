import {readFileSync} from 'node:fs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Sandbox, startSandbox} from '../../sandbox/sandbox.js'
import {allowedAuthPlugins} from '../../src/lib/auth-plugins.js'
import {connectTo, type ServerAddress} from '../../src/lib/mariadb.js'
import {connectForCopy} from '../../src/snapshot/parallel/connections.js'

/**
 * PAM asks the client for the password through the `dialog` plugin, which sends it as it is (as
 * `mysql_clear_password` does; a server only asks for that one with pam_use_cleartext_plugin, a
 * start-up option, so `dialog` stands for both here). The connector answers it over any TLS, even
 * one that accepted any certificate: datain must refuse before the password leaves.
 */
let sandbox: Sandbox
const PAM_USER = 'datain_pam'

beforeAll(async () => {
  sandbox = await startSandbox({sampleRows: 0})
  await sandbox.source.server.execute(["INSTALL SONAME 'auth_pam'", `CREATE USER ${PAM_USER}@'%' IDENTIFIED VIA pam USING 'datain-test'`])
})

afterAll(async () => {
  await sandbox?.stop()
})

const address = (tls: ServerAddress['tls']): ServerAddress => ({host: sandbox.source.host, port: sandbox.source.port, user: PAM_USER, password: 'never-sent-in-clear', tls})

describe('password plugins that send the password readable', () => {
  it('are allowed only over TLS that verifies the server', () => {
    expect(allowedAuthPlugins({verify: true})).toBeUndefined()
    for (const tls of [undefined, {verify: false}]) {
      expect(allowedAuthPlugins(tls)).not.toContain('mysql_clear_password')
      expect(allowedAuthPlugins(tls)).not.toContain('dialog')
      expect(allowedAuthPlugins(tls)).toContain('mysql_native_password')
    }
  })

  it('are refused before the password is sent over TLS that accepts any certificate, and over plain text', async () => {
    for (const [tls, connect] of [
      [{verify: false}, connectTo],
      [undefined, connectTo],
      [{verify: false}, connectForCopy],
    ] as const) {
      const error = await connect('source', address(tls)).catch((e: unknown) => e)
      expect(error).toMatchObject({code: 'E_SOURCE_AUTH_PLUGIN', exitCode: 4})
      expect((error as Error).message).toContain("plugin 'dialog'")
      expect((error as Error).message).not.toContain('never-sent-in-clear')
    }
  })

  it('are answered over verified TLS (the login then fails in PAM, which this sandbox does not configure)', async () => {
    const error = await connectTo('source', address({ca: readFileSync(sandbox.source.sslCa, 'utf8'), verify: true})).catch((e: unknown) => e)
    expect(error).toMatchObject({code: 'E_SOURCE_AUTH'})
  })
})
