import v8 from 'node:v8'
import vm from 'node:vm'

/**
 * Bounds the memory a long copy leaves for V8's garbage collector. The connector sends each
 * LOAD DATA from a 1 MiB buffer that lives until the replica has read it, long enough for V8 to
 * move many of them to its old generation. There they wait for a full collection, which V8 runs
 * only after 64 MB more of such memory, or later: a copy's peak RSS grew with its length (118 MB
 * for 377 MB of data, 141 MB for four times that). A full collection in the background
 * every `everyBytes` sent keeps it flat, for a fraction of a CPU second per gigabyte.
 */
export class GarbageBound {
  private sent = 0

  constructor(private readonly everyBytes: number) {}

  /** Counts bytes sent to the replica; starts a collection each time `everyBytes` more went out. */
  add(bytes: number): void {
    this.sent += bytes
    if (this.sent < this.everyBytes) return
    this.sent = 0
    collectInBackground()
  }
}

let gc: ((options: {type: 'major'; execution: 'async'}) => void) | undefined

/** A full collection, marked concurrently (V8's own `gc`, as jest's leak detector reaches it). */
function collectInBackground(): void {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc')
    gc = vm.runInNewContext('gc') as typeof gc
  }
  gc!({type: 'major', execution: 'async'})
}
