import {installPrompter} from '../lib/ask.js'

/** Prompts only when a person is there to answer: both stdin and stderr are terminals. */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY) && !process.env.CI
}

/** A yes/no question on this terminal (stderr, so that stdout stays the result); Ctrl-C at the question is a no. */
export async function askYesNo(message: string): Promise<boolean> {
  const {confirm} = await import('@inquirer/prompts')
  try {
    return await confirm({message, default: false}, {output: process.stderr})
  } catch (error) {
    if ((error as Error)?.name === 'ExitPromptError') return false
    throw error
  }
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
