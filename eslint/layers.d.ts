import type {ESLint} from 'eslint'

/** The layers of src/, top to bottom (see layers.js). */
export const LAYERS: string[][]
export const layers: ESLint.Plugin
