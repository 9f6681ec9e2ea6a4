import type {ParameterChange} from '../state/parameter-change.js'

/** Parameter changes recorded by an earlier, unfinished run: their `previous` is the user's value. */
export function parameterChanges(value: unknown): ParameterChange[] {
  if (!Array.isArray(value)) return []
  return value.filter(
    (c): c is ParameterChange =>
      typeof c === 'object' && c !== null && typeof c.name === 'string' && typeof c.value === 'string' && typeof c.changedByDatain === 'boolean',
  )
}

/** An earlier change of the same parameter by datain stays the one to remember (its `previous` is the user's value). */
export function mergeChange(changes: ParameterChange[], change: ParameterChange): ParameterChange[] {
  const earlier = changes.find((c) => c.name === change.name)
  if (!earlier) return [...changes, change]
  if (earlier.changedByDatain) return changes.map((c) => (c.name === change.name ? {...earlier, value: change.value} : c))
  return changes.map((c) => (c.name === change.name ? change : c))
}
