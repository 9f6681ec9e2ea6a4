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

/**
 * Server text shown where datain expects one line (a name in a list, a key value, a table cell):
 * as {@link terminalText}, and a line feed shown as `\x0a` too, so that a name holding one cannot
 * start a line of its own that reads as datain's (a false PASS, a row of the status).
 */
export function terminalLine(text: string): string {
  return terminalText(text).replaceAll('\n', '\\x0a')
}

/**
 * Multi-line text for a block indented by `indent`: every line after the first starts with it, so
 * a line feed in the servers' text it quotes lands inside the block, never at a column of datain's
 * own labels.
 */
export function indentLines(text: string, indent: string): string {
  return text.split('\n').join(`\n${indent}`)
}

/** A copy of `value` with every string in it (keys too) through {@link terminalText}; anything else as it is. */
export function terminalSafe<T>(value: T): T {
  if (typeof value === 'string') return terminalText(value) as T
  if (Array.isArray(value)) return value.map((v) => terminalSafe(v)) as T
  // Plain objects, and those without a prototype (Object.create(null), as some parsers make rows).
  const prototype = value !== null && typeof value === 'object' ? Object.getPrototypeOf(value) : undefined
  if (prototype === Object.prototype || prototype === null) {
    return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [terminalText(k), terminalSafe(v)])) as T
  }
  return value
}
