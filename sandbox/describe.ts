import type {Sandbox} from './sandbox.js'

/** How a person reaches each piece, for `sandbox up` and the demo. */
export function describeSandbox(sandbox: Sandbox): string[] {
  const {source, replica, azure} = sandbox
  return [
    `source   MariaDB ${source.host}:${source.port}  user ${source.user}  TLS CA ${source.sslCa}`,
    `replica  emulated Azure MariaDB behind the gateway ${replica.host}:${replica.port}  user ${replica.user}  TLS CA ${replica.sslCa}`,
    `         (the gateway refuses every client until a firewall rule covers its IP; the server itself listens on ${replica.server.port})`,
    `ARM      ${azure.arm.url}  subscription ${azure.subscriptionId}  resource group ${azure.resourceGroup}  server ${replica.serverName}`,
    `         procedures in the \`${sandbox.procedureSchema}\` schema; data in ${sandbox.dir}`,
  ]
}
