/** The source failed while its rows were read (the replica's statement failed only because of it). */
export class SourceReadError extends Error {
  constructor(override readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause))
  }
}

export interface Piece {
  bytes: Buffer
  rows: number
  /** Gives the piece's buffer back to its pool (once the replica has its bytes). */
  release: () => void
}

/**
 * Encoded pieces between the source's stream and the replica's statements. `next()` waits for
 * the next batch: pieces of at most `batchBytes` in all (at least one piece), as soon as that much
 * is read or the source has ended. The reader pauses from there too.
 */
export class PieceQueue {
  private pieces: Piece[] = []
  private bytes = 0
  private ended = false
  private error: unknown
  /** Set by the reader when it paused because the queue was full. */
  onRoom?: () => void
  private wake?: () => void

  constructor(private readonly batchBytes: number) {}

  get full(): boolean {
    return this.bytes >= this.batchBytes
  }

  /** The source has ended and every piece was taken. */
  get drained(): boolean {
    return this.ended && this.pieces.length === 0
  }

  put(piece: Piece): void {
    this.pieces.push(piece)
    this.bytes += piece.bytes.length
    this.notify()
  }

  end(): void {
    this.ended = true
    this.notify()
  }

  fail(error: unknown): void {
    this.error = error
    this.notify()
  }

  /** The next batch; throws a SourceReadError when the source failed first. */
  async next(): Promise<Piece[]> {
    while (this.error === undefined && !this.ended && !this.full) {
      await new Promise<void>((resolve) => (this.wake = resolve))
    }
    if (this.error !== undefined) throw new SourceReadError(this.error)
    const batch: Piece[] = []
    let bytes = 0
    // A batch ends before the piece that would take it past its limit (unless it is the first).
    while (this.pieces.length > 0 && (batch.length === 0 || bytes + this.pieces[0]!.bytes.length <= this.batchBytes)) {
      const piece = this.pieces.shift()!
      bytes += piece.bytes.length
      batch.push(piece)
    }
    this.bytes -= bytes
    if (this.onRoom && !this.full) {
      const resume = this.onRoom
      this.onRoom = undefined
      resume()
    }
    return batch
  }

  private notify(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }
}
