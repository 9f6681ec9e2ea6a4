import type {PreflightContext} from './check.js'

/**
 * One answer per preflight run to a question several checks ask (the selected tables, the stored
 * objects): on thousands of tables each such information_schema query costs the source a pass
 * over every table, and the answer does not change within a run. Without `ctx.shared` (a check run
 * on its own), each call asks the server again. The promise is kept, so that checks running at
 * the same time wait for one query instead of sending one each; a failed query is not kept.
 */
export function sharedAnswer<T>(ctx: Pick<PreflightContext, 'shared'>, key: string, ask: () => Promise<T>): Promise<T> {
  const answers = ctx.shared
  if (!answers) return ask()
  const known = answers.get(key) as Promise<T> | undefined
  if (known) return known
  const answer = ask()
  answers.set(key, answer)
  answer.catch(() => answers.delete(key))
  return answer
}
