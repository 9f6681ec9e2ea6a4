import {installPrompter} from '../lib/ask.js'

/** Prompts only when a person is there to answer: both stdin and stderr are terminals. */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY) && !process.env.CI
}

/** Lets the services ask on this terminal for a missing setting or password (lib/ask.ts), when someone is there. */
export function installTerminalPrompts(): void {
  installPrompter(
    canPrompt()
      ? {
          // Loaded when a question is asked: most runs ask none, and the prompts cost start-up time.
          value: async (message) => (await import('@inquirer/prompts')).input({message, required: true}, {output: process.stderr}),
          password: async (message) => (await import('@inquirer/prompts')).password({message, mask: false}, {output: process.stderr}),
        }
      : undefined,
  )
}
