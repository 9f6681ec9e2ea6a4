import {ux} from '@oclif/core'

export type Color = 'green' | 'yellow' | 'red' | 'cyan' | 'gray'
/** Colours text for people; the identity where there is no colour. */
export type Paint = (color: Color, text: string) => string

/** No colour: a pipe, a log, --json, tests. */
export const plain: Paint = (_color, text) => text

/**
 * Colour for a terminal only, decided as https://no-color.org asks, by @oclif/core's `ux.colorize`
 * (supports-color, then ansis): colour when both stdout and stderr are terminals; none when
 * NO_COLOR is set to anything but the empty string, when TERM=dumb, or with FORCE_COLOR=0;
 * FORCE_COLOR=1..3 forces it on a pipe (unless NO_COLOR). Under --json nothing is coloured.
 */
export function terminalPaint(json = false): Paint {
  return json ? plain : (color, text) => ux.colorize(color, text)
}
