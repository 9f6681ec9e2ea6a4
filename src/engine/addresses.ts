import {readCaFile} from '../lib/validate.js'
import {requirePassword} from '../lib/ask.js'
import type {ServerAddress} from '../lib/mariadb.js'
import type {Settings} from '../state/schema.js'

/**
 * The lines every command that connects repeats about a profile's weaker links, so that a choice made
 * once at init is not forgotten: `--no-replica-ssl-verify`, `--source-ssl off`.
 */
export function tlsWarnings(settings: Settings): string[] {
  const warnings: string[] = []
  if (settings.replica.ssl === 'off') {
    warnings.push(
      "Warning: this profile connects to the replica in plain text (--replica-ssl off): every row copied, and the replication user's password in the link's " +
        "CHANGE MASTER TO, cross the network readable. Turn TLS on at the replica and record 'datain init --force --replica-ssl on'.",
    )
  } else if (!settings.replica.tlsVerify) {
    warnings.push(
      "Warning: this profile does not verify the replica's TLS certificate (--no-replica-ssl-verify): a machine on the path could pose as the replica. " +
        "Record its CA with 'datain init --force --replica-ssl-verify --replica-ssl-ca FILE'.",
    )
  }
  if (settings.target === 'mariadb' && settings.source.ssl !== 'off' && !settings.replica.linkSslCa) {
    warnings.push(
      "Warning: the replica's link to the source uses TLS but does not verify the source's certificate: give the source's CA as a file on the replica's host with " +
        "'datain init --force --target mariadb --link-ssl-ca PATH' (MASTER_SSL_CA, MASTER_SSL_VERIFY_SERVER_CERT).",
    )
  }
  if (settings.source.ssl === 'off') {
    warnings.push("Warning: this profile connects to the source in plain text (--source-ssl off); the replication stream crosses the network in clear.")
  }
  return warnings
}

export async function sourceAddress(settings: Settings, password: string): Promise<ServerAddress> {
  const {host, port, user, ssl, sslCa} = settings.source
  // TLS unless the profile says `--source-ssl off`: verified, against the CA file or the system's CAs.
  if (ssl === 'off') return {host, port, user, password}
  return {host, port, user, password, tls: {ca: sslCa ? readCaFile('--source-ssl-ca', sslCa) : undefined, verify: true}}
}

export async function replicaAddress(settings: Settings, password: string): Promise<ServerAddress> {
  const {host, port, user, ssl, sslCa, tlsVerify} = settings.replica
  // Plain text only by an explicit `--replica-ssl off`, which init takes for --target mariadb alone.
  if (ssl === 'off') return {host, port, user, password}
  const address: ServerAddress = {host, port, user, password, tls: {ca: sslCa ? readCaFile('--replica-ssl-ca', sslCa) : undefined, verify: tlsVerify}}
  // Named in the advice when Azure's gateway refuses a login without `@server` (error 9002).
  if (settings.target !== 'mariadb' && settings.azure.server) address.azureServer = settings.azure.server
  return address
}

/**
 * How to reach both servers, the passwords read (environment or prompt); without `needsSource`,
 * the source's address has no password.
 */
export async function serverAddresses(settings: Settings, needsSource = true): Promise<{sourceAddress: ServerAddress; replicaAddress: ServerAddress}> {
  const sourcePassword = needsSource ? await requirePassword('DATAIN_SOURCE_PASSWORD', `the source user '${settings.source.user}'`) : ''
  const replicaPassword = await requirePassword('DATAIN_REPLICA_PASSWORD', `the replica user '${settings.replica.user}'`)
  return {sourceAddress: await sourceAddress(settings, sourcePassword), replicaAddress: await replicaAddress(settings, replicaPassword)}
}
