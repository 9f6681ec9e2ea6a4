import type {Check} from '../check.js'

const SUPPORTED = ['GeneralPurpose', 'MemoryOptimized']

export const tierCheck: Check = {
  id: 'tier',
  title: 'Replica in General Purpose or Memory Optimized',
  needs: ['arm'],
  targets: ['azure-mariadb'],
  async run(ctx) {
    const {server, target} = ctx.arm!
    const tier = server.sku?.tier ?? 'unknown'
    const sku = server.sku?.name ? ` (SKU ${server.sku.name})` : ''
    if (SUPPORTED.includes(tier)) {
      return {status: 'pass', message: `The server '${target.server}' is in the ${tier} tier${sku}, which supports Data-in Replication.`}
    }
    return {
      status: 'fail',
      message:
        `The server '${target.server}' is in the ${tier} tier${sku}; Data-in Replication needs General Purpose or Memory Optimized` +
        (tier === 'Basic' ? ', and a Basic server cannot be scaled to either.' : '.'),
      fix:
        'Create a new Azure Database for MariaDB server in General Purpose or Memory Optimized (portal: Pricing tier; or ' +
        `az mariadb server create --resource-group ${target.resourceGroup} --name NEW_SERVER --sku-name GP_Gen5_2 --version 10.3 ...) ` +
        'and give its name with --server; scaling between Basic and the other tiers is not supported.',
    }
  },
}
