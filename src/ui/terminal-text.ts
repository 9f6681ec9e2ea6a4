/**
 * Characters a terminal acts on rather than shows: C0 controls but line feed and tab (ESC starts
 * the sequences that move the cursor, clear the screen, set the title or hide text; CR and BS
 * overwrite what was written), DEL, C1 controls (U+0080–U+009F: CSI and OSC in one character on
 * some terminals), and the Unicode controls that reorder or break lines (bidi overrides and
 * isolates, line and paragraph separators): with them a name could show as another.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/gu

/**
 * Text from a server (names, error messages, SQL it sent back) made safe to write to a terminal:
 * every unsafe character is shown as its escape (`\x1b`, `\u202e`), the rest is left as it is.
 * Only for what people read: `--json` keeps the exact text (JSON escapes controls itself).
 */
export function terminalText(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.codePointAt(0)!
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** A copy of `value` with every string in it (keys too) through {@link terminalText}; anything else as it is. */
export function terminalSafe<T>(value: T): T {
  if (typeof value === 'string') return terminalText(value) as T
  if (Array.isArray(value)) return value.map((v) => terminalSafe(v)) as T
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [terminalText(k), terminalSafe(v)])) as T
  }
  return value
}
