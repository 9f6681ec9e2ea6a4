import type {ConnectionConfig} from 'mariadb'

/**
 * Authentication plugins of the mariadb connector (3.5.4) that never put the password itself on the
 * wire: a hash, a signature, or RSA with a key the client must already hold.
 */
const PASSWORD_HIDING_PLUGINS = ['mysql_native_password', 'client_ed25519', 'parsec', 'sha256_password', 'caching_sha2_password']

/**
 * The connector's `restrictedAuth` for a link: undefined (every plugin) only over TLS that verifies
 * the server. The connector itself refuses `mysql_clear_password` and `dialog` (PAM) without TLS, but
 * takes TLS that accepts any certificate as secure enough, so a machine posing as the server with a
 * certificate of its own could ask for the password in clear and get it. Listing the plugins (instead
 * of the connector's check) keeps that decision here.
 */
export function allowedAuthPlugins(tls: {verify: boolean} | undefined): string[] | undefined {
  return tls?.verify ? undefined : PASSWORD_HIDING_PLUGINS
}

/** {@link allowedAuthPlugins} as connection options: the connector reads `restrictedAuth`, which its types omit. */
export function authOptions(tls: {verify: boolean} | undefined): Partial<ConnectionConfig> {
  const restrictedAuth = allowedAuthPlugins(tls)
  return restrictedAuth ? ({restrictedAuth} as Partial<ConnectionConfig>) : {}
}
