import type {Check} from '../check.js'

/** Can this source replicate into this replica at all: versions, engines, keys, binlog, names, tier, procedures. */
export const compatibilityChecks: Check[] = []
