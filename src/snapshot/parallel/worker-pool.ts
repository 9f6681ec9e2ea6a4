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

  /**
   * Runs `task` on every item, one worker per thread, until all are done or one fails (then throws
   * its error). Items may be a WorkQueue still being filled: a worker waits for the next one.
   */
  async run(items: WorkItem[] | WorkQueue, task: (item: WorkItem, worker: number) => Promise<void>): Promise<void> {
    const queue = items instanceof WorkQueue ? items : new WorkQueue(items).close()
    await Promise.all(
      Array.from({length: this.threads}, async (_, i) => {
        for (let item = await queue.next(); item && this.failure === undefined; item = await queue.next()) {
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

/** Items for WorkerPool.run, handed out in order as they are pushed, until closed. */
export class WorkQueue {
  private items: Array<WorkItem | undefined>
  private head = 0
  private closed = false
  private waiting: Array<() => void> = []

  constructor(items: WorkItem[] = []) {
    this.items = [...items]
  }

  push(items: WorkItem[]): void {
    this.items.push(...items)
    this.wake()
  }

  /** No more items: workers end once the queue is empty. */
  close(): this {
    this.closed = true
    this.wake()
    return this
  }

  /** The next item, or undefined once the queue is closed and empty. */
  async next(): Promise<WorkItem | undefined> {
    while (this.head >= this.items.length && !this.closed) await new Promise<void>((resolve) => this.waiting.push(resolve))
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    // Handed out: let it go (an index, not shift(), which moves every other item each time).
    this.items[this.head++] = undefined
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    }
    return item
  }

  private wake(): void {
    for (const resolve of this.waiting.splice(0)) resolve()
  }
}
