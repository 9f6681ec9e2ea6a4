import type {Check} from '../check.js'

/** Does datain hold what the steps need, and what will not carry over: privileges, retention, definers, accounts, names. */
export const accessChecks: Check[] = []
