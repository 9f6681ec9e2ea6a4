import type {FirewallOutput, NetworkDriver} from '../target.js'

/** A replica the DBA administers has no firewall datain could open: the network path is theirs, and the step says so. */
export const noNetworkPath: NetworkDriver = {
  plan: async () => [{on: 'local', kind: 'note', text: 'not applicable to this target: datain opens no firewall; the source and this machine must reach the replica already'}],
  async open(ctx): Promise<FirewallOutput> {
    ctx.ui.info('Not applicable to this target: datain opens no firewall. The replica must reach the source, and this machine the replica, already.')
    return {sourceIp: '', clientIp: null, createdRules: [], createdRanges: [], reusedRules: [], managed: false, notApplicable: true}
  },
  letClientIn: async (ctx) => ({clientIp: ctx.settings.clientIp, createdRules: [], createdRanges: [], reusedRules: []}),
  close: async () => ({deleted: [], absent: [], left: [], changed: []}),
}
