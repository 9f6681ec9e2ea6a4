import type {Step} from './step.js'

export type {FirewallOutput} from '../state/step-outputs.js'

/** Step 4: the network path to the replica (on Azure, its firewall rules), as the replica's target opens it. */
export const firewallStep: Step<'firewall'> = {
  id: 'firewall',
  title: 'Firewall',
  describe: "lets the source and this machine through the replica's firewall (Azure), with rules named after the profile",
  plan: (ctx) => ctx.target.network.plan(ctx),
  run: (ctx) => ctx.target.network.open(ctx),
}
