import type {Connection} from 'mariadb'
import {interruptedError} from '../../lib/client-tool-errors.js'
import {connectTo, type ServerAddress} from '../../lib/mariadb.js'
import {connectForCopy} from './connections.js'
import {chunkError} from './copy-errors.js'
import type {WorkItem} from './copy-plan.js'
import {tableLabel} from './tables.js'

/**
 * The copy's connections and its workers. The first failure, or an abort of `signal`, is kept and
 * ends every connection at once, so that the other workers stop in the middle of their statements;
 * the caller throws it. `close()` ends whatever is left, whatever happened.
 */
export class WorkerPool {
  /** The first failure of any worker, or E_INTERRUPTED; undefined while all goes well. */
  failure: unknown
  /** What each busy worker copies now (`db.table`), for the progress line. */
  readonly busy = new Map<number, string>()
  private readonly opened: Connection[] = []
  private readonly onAbort = () => this.fail(interruptedError())

  constructor(
    /** Workers: worker `i` uses the `i`-th connection of each side. */
    readonly threads: number,
    private readonly signal: AbortSignal,
  ) {
    if (signal.aborted) throw interruptedError()
    signal.addEventListener('abort', this.onAbort, {once: true})
  }

  fail(error: unknown): void {
    this.failure ??= error
    // Ends every statement in flight: the other workers stop at once.
    for (const conn of this.opened) conn.destroy()
  }

  /** A connection ended with the pool: one for rows (connectForCopy), or for metadata and DDL. */
  async open(role: 'source' | 'replica', address: ServerAddress, forRows = true): Promise<Connection> {
    const conn = forRows ? await connectForCopy(role, address) : await connectTo(role, address)
    this.opened.push(conn)
    // A connection that dies between statements must not take the process with it.
    conn.on('error', () => {})
    if (this.failure !== undefined) conn.destroy()
    return conn
  }

  /** Runs `task` on every item, one worker per thread, until all are done or one fails (then throws its error). */
  async run(items: WorkItem[], task: (item: WorkItem, worker: number) => Promise<void>): Promise<void> {
    const queue = [...items]
    await Promise.all(
      Array.from({length: this.threads}, async (_, i) => {
        for (let item = queue.shift(); item && this.failure === undefined; item = queue.shift()) {
          this.busy.set(i, tableLabel(item.chunk.table))
          try {
            await task(item, i)
          } catch (error) {
            this.fail(chunkError(item.chunk, error))
            return
          } finally {
            this.busy.delete(i)
          }
        }
      }),
    )
    this.throwIfFailed()
  }

  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure
  }

  async close(): Promise<void> {
    this.signal.removeEventListener('abort', this.onAbort)
    await Promise.allSettled(this.opened.map((c) => (c.isValid() ? c.end() : Promise.resolve())))
    for (const conn of this.opened) conn.destroy()
  }
}
