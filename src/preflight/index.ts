import {accessChecks} from './access/index.js'
import type {Check} from './check.js'
import {compatibilityChecks} from './compat/index.js'

/** Every preflight check, in the order the report lists them. */
export const PREFLIGHT_CHECKS: Check[] = [...compatibilityChecks, ...accessChecks]
