import type {ParameterChange} from '../state/parameter-change.js'

/** An earlier change of the same parameter by datain stays the one to remember (its `previous` is the user's value). */
export function mergeChange(changes: ParameterChange[], change: ParameterChange): ParameterChange[] {
  const earlier = changes.find((c) => c.name === change.name)
  if (!earlier) return [...changes, change]
  if (earlier.changedByDatain) return changes.map((c) => (c.name === change.name ? {...earlier, value: change.value} : c))
  return changes.map((c) => (c.name === change.name ? change : c))
}
