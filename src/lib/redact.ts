/**
 * Every secret datain holds is registered here the moment it is read, so that whatever leaves the
 * process (messages, errors, --json, the journal, --dry-run) can be scrubbed of it.
 */
const secrets = new Set<string>()

export const MASK = '***'

export function registerSecret(value: string | undefined): void {
  // A one-character "secret" would mask half of every message; such a password is refused elsewhere.
  if (value && value.length >= 2) secrets.add(value)
}

/** `text` with every registered secret (and its SQL- or JSON-escaped forms) replaced by `***`. */
export function redact(text: string): string {
  let out = text
  // Longest first, so that a secret containing another is masked whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    for (const form of forms(secret)) out = out.split(form).join(MASK)
  }
  return out
}

/** A deep copy of a JSON-able value with secrets masked in every string. */
export function redactValue<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T
  if (Array.isArray(value)) return value.map((v) => redactValue(v)) as T
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v)])) as T
  }
  return value
}

function forms(secret: string): string[] {
  const sqlEscaped = secret.replaceAll('\\', '\\\\').replaceAll("'", "\\'")
  const jsonEscaped = JSON.stringify(secret).slice(1, -1)
  return [...new Set([secret, sqlEscaped, jsonEscaped])]
}
