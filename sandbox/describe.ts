import type {AnySandbox} from './sandbox.js'

/** How a person reaches each piece, for `sandbox up` and the demo; the first line says which replica it is. */
export function describeSandbox(sandbox: AnySandbox): string[] {
  const {source, replica} = sandbox
  const sourceLine = `source   MariaDB ${source.host}:${source.port}  user ${source.user}  TLS CA ${source.sslCa}`
  if (sandbox.target === 'mariadb') {
    return [
      'mode     mariadb: a plain MariaDB replica (datain --target mariadb), no gateway, no ARM',
      sourceLine,
      `replica  MariaDB ${replica.host}:${replica.port}  user ${replica.user}  TLS CA ${replica.sslCa}`,
      `         (reached directly; TLS offered, not required; data in ${sandbox.dir})`,
    ]
  }
  const {azure} = sandbox
  return [
    'mode     azure-mariadb: an emulated Azure Database for MariaDB (datain --target azure-mariadb)',
    sourceLine,
    `replica  emulated Azure MariaDB behind the gateway ${replica.host}:${replica.port}  user ${replica.user}  TLS CA ${replica.sslCa}`,
    `         (the gateway refuses every client until a firewall rule covers its IP; the server itself listens on ${sandbox.replica.server.port})`,
    `ARM      ${azure.arm.url}  subscription ${azure.subscriptionId}  resource group ${azure.resourceGroup}  server ${sandbox.replica.serverName}`,
    `         procedures in the \`${sandbox.procedureSchema}\` schema; data in ${sandbox.dir}`,
  ]
}
