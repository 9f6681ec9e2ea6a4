import type {Check, CheckResult, PreflightContext} from '../check.js'

/**
 * How the secrets and rows travel: datain's link to the source (`--source-ssl`), what the replica's
 * link will be, and whether the replica's own certificate is checked (`--no-replica-ssl-verify`).
 */
export const tlsCheck: Check = {
  id: 'tls',
  title: 'Connections are encrypted and verified',
  needs: [],
  async run(ctx) {
    return [await sourceTls(ctx), replicaVerify(ctx)]
  },
}

async function sourceTls(ctx: PreflightContext): Promise<CheckResult> {
  const base = {id: 'source-tls', title: "The source's connections use verified TLS"}
  if (ctx.settings.sourceSsl === 'off') {
    return {
      ...base,
      status: 'warn',
      message:
        "datain connects to the source in plain text (--source-ssl off): every row it reads crosses the network readable, the replication user cannot be REQUIRE SSL, and the replica's link replicates in clear.",
      fix: "Turn TLS on at the source (ssl_cert and ssl_key in its my.cnf, then a restart) and record the profile again with 'datain init --force --source-ssl on --source-ssl-ca FILE'.",
    }
  }
  const [row] = (await ctx.source.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")) as Array<{Value?: string}>
  const cipher = row?.Value ? ` (${row.Value})` : ''
  if (!ctx.settings.sourceCa && ctx.settings.target === 'mariadb') {
    // A replica the DBA administers is given no CA text: its link verifies the source with --link-ssl-ca, a file on its own host.
    return {
      ...base,
      status: 'pass',
      message: `datain's connection to the source is TLS${cipher}, verified against the system's CAs; the replica's link uses TLS (MASTER_SSL=1), and --link-ssl-ca makes it verify the source.`,
    }
  }
  if (!ctx.settings.sourceCa) {
    // Azure's procedure takes the CA as text: without one it links without TLS, and the REQUIRE SSL account then refuses it.
    return {
      ...base,
      status: 'fail',
      message:
        `datain's connection to the source is TLS${cipher}, verified against the system's CAs, but no --source-ssl-ca names the CA to give the replica: ` +
        'its link would go without TLS, and the replication user, which is REQUIRE SSL on a source that speaks TLS, would refuse it.',
      fix: "Record the CA that signed the source's certificate (for a public CA, its root certificate file): 'datain init --force --source-ssl-ca FILE'.",
    }
  }
  return {...base, status: 'pass', message: `datain's connection to the source is TLS${cipher}, verified against --source-ssl-ca; the replication user will be REQUIRE SSL and the replica given the CA.`}
}

function replicaVerify(ctx: PreflightContext): CheckResult {
  const base = {id: 'replica-tls-verify', title: "The replica's certificate is verified"}
  if (ctx.settings.replicaSsl === 'off') {
    return {
      ...base,
      status: 'warn',
      message:
        "datain connects to the replica in plain text (--replica-ssl off): every row copied, and the replication user's password in the link's CHANGE MASTER TO, cross the network readable.",
      fix: "Turn TLS on at the replica (ssl_cert and ssl_key in its my.cnf, then a restart) and record the profile again with 'datain init --force --replica-ssl on'.",
    }
  }
  if (ctx.settings.replicaTlsVerify) return {...base, status: 'pass', message: "datain verifies the replica's TLS certificate."}
  return {
    ...base,
    status: 'warn',
    message:
      "datain does not verify the replica's certificate (--no-replica-ssl-verify): a machine on the path could pose as the replica and receive its admin's login and every row copied.",
    fix: "Give the CA of the replica's certificate with --replica-ssl-ca FILE and leave out --no-replica-ssl-verify: 'datain init --force --replica-ssl-verify --replica-ssl-ca FILE'.",
  }
}
