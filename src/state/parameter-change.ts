/**
 * What a target's `parameters.ensure` found and did: kept in a step's output, so that a later
 * cleanup can put `previous` back where datain changed it.
 */
export interface ParameterChange {
  name: string
  /** The value before datain looked; null when the server reported none. */
  previous: string | null
  value: string
  changedByDatain: boolean
}

/** Whether two parameter values mean the same: ON/1/TRUE and OFF/0/FALSE alike, other text without regard to case. */
export function sameValue(a: string, b: string): boolean {
  const norm = (v: string) => {
    const t = v.trim().toUpperCase()
    if (t === 'ON' || t === '1' || t === 'TRUE') return 'ON'
    if (t === 'OFF' || t === '0' || t === 'FALSE') return 'OFF'
    return t
  }
  return norm(a) === norm(b)
}
