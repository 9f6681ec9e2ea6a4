import {afterEach, describe, expect, it} from 'vitest'
import type {DatainError} from '../../src/lib/errors.js'
import {exitCodesHelp} from '../../src/ui/exit-codes-help.js'
import {type InterruptOptions, Interrupts, interruptExit} from '../../src/ui/interrupts.js'

class Exited extends Error {
  constructor(readonly error: DatainError) {
    super(error.message)
  }
}

const opened: Interrupts[] = []
afterEach(() => {
  for (const i of opened.splice(0)) i.dispose()
})

/** A handler whose "exit now" throws instead of ending the test runner; signals are emitted, not sent. */
function handler(): {interrupts: Interrupts; notes: string[]} {
  const notes: string[] = []
  const interrupts = new Interrupts({
    note: (line) => notes.push(line),
    exitNow: (error) => {
      throw new Exited(error)
    },
  })
  opened.push(interrupts)
  return {interrupts, notes}
}

function send(signal: NodeJS.Signals): Exited | undefined {
  try {
    process.emit(signal, signal)
    return undefined
  } catch (error) {
    if (error instanceof Exited) return error
    throw error
  }
}

describe('the one signal handler', () => {
  it('exit codes are 128 + the signal: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP', () => {
    expect([interruptExit('SIGINT'), interruptExit('SIGTERM'), interruptExit('SIGHUP')]).toEqual([130, 143, 129])
  })

  it('before the command takes its signal, the first one ends it at once with E_INTERRUPTED', () => {
    const {interrupts} = handler()
    const exited = send('SIGTERM')
    expect(exited?.error).toMatchObject({code: 'E_INTERRUPTED', exitCode: 143})
    expect(interrupts.received).toBe('SIGTERM')
  })

  it('once taken, the first signal aborts (reason: E_INTERRUPTED with its exit); a second ends at once', () => {
    const {interrupts, notes} = handler()
    const signal = interrupts.signal({again: 'exit'})
    expect(send('SIGINT')).toBeUndefined()
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toMatchObject({code: 'E_INTERRUPTED', exitCode: 130})
    expect(notes).toEqual([])
    expect(send('SIGINT')?.error).toMatchObject({exitCode: 130})
  })

  it("'wait' (stop): later signals only say that datain is already stopping", () => {
    const {interrupts, notes} = handler()
    const options: InterruptOptions = {again: 'wait', first: (s) => `${s}: stopping`, waiting: (s) => `${s}: already stopping`}
    const signal = interrupts.signal(options)
    expect(send('SIGHUP')).toBeUndefined()
    expect(send('SIGHUP')).toBeUndefined()
    expect(send('SIGINT')).toBeUndefined()
    expect(signal.aborted).toBe(true)
    expect(notes).toEqual(['SIGHUP: stopping', 'SIGHUP: already stopping', 'SIGINT: already stopping'])
    // The first signal is the one the exit code reports.
    expect(interrupts.received).toBe('SIGHUP')
  })

  it('dispose removes every listener it added', () => {
    const before = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s))
    handler().interrupts.dispose()
    expect(['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s))).toEqual(before)
  })

  it("every command's help lists the interrupt's exit code last", () => {
    expect(exitCodesHelp({ok: 'done'}).split('\n').at(-1)).toMatch(/^ {2}130 {2}interrupted by Ctrl-C; 143 by SIGTERM, 129 by SIGHUP/)
  })
})
