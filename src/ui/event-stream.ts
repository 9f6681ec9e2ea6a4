import {redactValue} from '../lib/redact.js'
import type {SetupEvent} from '../steps/setup-events.js'
import type {StepId, StepUi} from '../steps/step.js'

/**
 * `datain start --json`: every event of the run as one JSON object on one line of `out` (stdout),
 * `event` and `at` first, secrets masked; lines meant for people (`info`, `status`) are not
 * written. The command writes its result (or error) as the last line (see Start.logJson).
 */
export function eventStreamUi(out: {write(text: string): unknown} = process.stdout): StepUi {
  let step: StepId | null = null
  const write = (event: SetupEvent) => {
    const {event: kind, ...rest} = event
    out.write(`${JSON.stringify(redactValue({event: kind, at: new Date().toISOString(), ...rest}))}\n`)
  }
  return {
    info() {},
    status() {},
    warn(message) {
      write({event: 'warning', step, message})
    },
    event(event) {
      if (event.event === 'step-started') step = event.step
      write(event)
      if (event.event === 'step-done' || event.event === 'step-failed') step = null
    },
  }
}
