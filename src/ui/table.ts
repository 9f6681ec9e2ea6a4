import {displayWidth, padDisplay, truncateDisplay} from '../lib/format.js'

export interface TableOptions {
  /** Before every line; default two spaces. */
  indent?: string
  /** Between two columns; default two spaces. */
  gap?: string
  /** Terminal columns: a longer line is cut and ends in `…`. Default: none (a pipe, a log). */
  width?: number
}

/**
 * Rows of plain text (no escape codes: colour a cell after this) as aligned lines: every column as
 * wide, on a terminal, as its widest cell, measured in columns (a CJK name or an emoji takes two),
 * the last column unpadded, no trailing spaces. Cells must be terminal-safe (terminalText) already.
 */
export function tableLines(cells: readonly (readonly string[])[], options: TableOptions = {}): string[] {
  const {indent = '  ', gap = '  ', width} = options
  // A cell is one line: a line feed in a name would break the row in two.
  const rows = cells.map((row) => row.map((cell) => cell.replaceAll('\n', '\\x0a')))
  const columns = Math.max(0, ...rows.map((row) => row.length))
  const widths = Array.from({length: columns}, (_, i) => Math.max(0, ...rows.map((row) => displayWidth(row[i] ?? ''))))
  return rows.map((row) => {
    const text = indent + row.map((cell, i) => (i === row.length - 1 ? cell : padDisplay(cell, widths[i]!))).join(gap)
    const line = text.trimEnd()
    return width === undefined ? line : truncateDisplay(line, width)
  })
}
