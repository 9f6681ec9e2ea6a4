import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {BufferPool, MalformedRowError, RowEncoder} from '../../src/snapshot/parallel/row-encoder.js'

/**
 * RowEncoder.pushPacket reads the source's text-protocol row packets themselves: it must give
 * exactly what push() gives for the values those packets hold, whatever the values (NULLs, empty,
 * the bytes LOAD DATA reads as syntax, lengths on every side of the 1-, 3- and 4-byte length
 * boundaries), wherever the row sits in the connector's buffer; and for bytes that are not such a
 * row (a broken or hostile source) it must throw MalformedRowError having appended nothing,
 * never read outside the row, never hang.
 */

type Value = Uint8Array | null

/** A length-encoded integer as a server writes it; `wide` picks a longer form than needed (still valid). */
function lengthBytes(n: number, wide = 0): number[] {
  const form = Math.max(n < 251 ? 0 : n < 2 ** 16 ? 1 : n < 2 ** 24 ? 2 : 3, wide)
  const le = (count: number) => Array.from({length: count}, (_, i) => Math.floor(n / 256 ** i) % 256)
  return form === 0 ? [n] : form === 1 ? [0xfc, ...le(2)] : form === 2 ? [0xfd, ...le(3)] : [0xfe, ...le(8)]
}

function rowPacket(values: Value[], wide: number[] = []): Buffer {
  return Buffer.concat(values.flatMap((value, i) => (value === null ? [Buffer.from([0xfb])] : [Buffer.from(lengthBytes(value.length, wide[i] ?? 0)), value])))
}

/** An independent reading of a row packet: the values, or undefined when the bytes are not `columns` values exactly. */
function decode(packet: Buffer, columns: number): Value[] | undefined {
  const values: Value[] = []
  let p = 0
  for (let i = 0; i < columns; i++) {
    if (p >= packet.length) return undefined
    const first = packet[p]!
    if (first === 0xfb) {
      values.push(null)
      p++
      continue
    }
    const width = first < 0xfb ? 0 : ({0xfc: 2, 0xfd: 3, 0xfe: 8} as Record<number, number>)[first]
    if (width === undefined || p + 1 + width > packet.length) return undefined
    let n = first < 0xfb ? first : 0
    for (let b = width; b >= 1; b--) n = n * 256 + packet[p + b]!
    p += 1 + width
    if (n > packet.length - p) return undefined
    values.push(packet.subarray(p, p + n))
    p += n
  }
  return p === packet.length && columns > 0 ? values : undefined
}

const special = fc.constantFrom(0x00, 0x09, 0x0a, 0x5c, 0x4e, 0xfb, 0xff)
const byte = fc.oneof({weight: 4, arbitrary: fc.integer({min: 0, max: 255})}, {weight: 1, arbitrary: special})
const bytesOf = (minLength: number, maxLength: number) => fc.uint8Array({minLength, maxLength}).chain((plain) =>
  fc.array(fc.tuple(fc.nat(Math.max(0, plain.length - 1)), byte), {maxLength: 3}).map((marks) => {
    const out = Uint8Array.from(plain)
    for (const [at, b] of marks) if (at < out.length) out[at] = b
    return out
  }),
)
const value: fc.Arbitrary<Value> = fc.oneof(
  {weight: 2, arbitrary: fc.constant(null)},
  {weight: 10, arbitrary: bytesOf(0, 40)},
  {weight: 3, arbitrary: bytesOf(245, 260)},
  // Long values: one byte repeated, a few others marked in (fast to generate).
  {weight: 1, arbitrary: fc.tuple(fc.integer({min: 65_530, max: 65_540}), byte, fc.array(fc.tuple(fc.nat(65_529), byte), {maxLength: 3})).map(([n, fill, marks]) => {
    const out = new Uint8Array(n).fill(fill)
    for (const [at, b] of marks) out[at] = b
    return out
  })},
)
const row = fc.record({values: fc.array(value, {minLength: 1, maxLength: 6}), wide: fc.array(fc.integer({min: 0, max: 3}), {maxLength: 6})})

function encodedByPush(rows: Value[][]): Buffer {
  const encoder = new RowEncoder(new BufferPool(96 * 1024))
  for (const values of rows) encoder.push(values)
  return Buffer.from(encoder.take().bytes)
}

describe('rows read from the source packets themselves', () => {
  it('encode exactly as their values do, wherever they sit in the buffer (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(row, {minLength: 1, maxLength: 12}), bytesOf(0, 8), (rows, gap) => {
        // The rows one after the other with other bytes between them, as in a socket's read.
        const parts: Buffer[] = [Buffer.from(gap)]
        const places: Array<[number, number, number]> = []
        let at = gap.length
        for (const {values, wide} of rows) {
          const packet = rowPacket(values, wide)
          places.push([at, at + packet.length, values.length])
          parts.push(packet, Buffer.from(gap))
          at += packet.length + gap.length
        }
        const buffer = Buffer.concat(parts)
        const encoder = new RowEncoder(new BufferPool(96 * 1024))
        for (const [start, end, columns] of places) encoder.pushPacket(buffer, start, end, columns)
        const taken = encoder.take()
        expect(taken.rows).toBe(rows.length)
        expect(Buffer.from(taken.bytes).equals(encodedByPush(rows.map((r) => r.values)))).toBe(true)
      }),
      {numRuns: 400},
    )
  })

  it('refuse any bytes that are not exactly the row, appending nothing (fast-check on cut, spliced and random packets)', () => {
    const damaged = fc.oneof(
      row.chain(({values, wide}) => {
        const packet = rowPacket(values, wide)
        return fc.tuple(fc.nat(packet.length), fc.nat(packet.length), bytesOf(0, 6)).map(([from, to, splice]) => ({
          packet: Buffer.concat([packet.subarray(0, Math.min(from, to)), Buffer.from(splice), packet.subarray(Math.max(from, to))]),
          columns: values.length,
        }))
      }),
      fc.record({packet: bytesOf(0, 40).map((b) => Buffer.from(b)), columns: fc.integer({min: 0, max: 8})}),
    )
    fc.assert(
      fc.property(damaged, bytesOf(0, 8), ({packet, columns}, around) => {
        const buffer = Buffer.concat([Buffer.from(around), packet, Buffer.from(around)])
        const encoder = new RowEncoder(new BufferPool(96 * 1024))
        encoder.push([Buffer.from('before')])
        const before = encoder.length
        const values = decode(packet, columns)
        const read = () => encoder.pushPacket(buffer, around.length, around.length + packet.length, columns)
        if (values === undefined) {
          expect(read).toThrow(MalformedRowError)
          expect(encoder.length).toBe(before)
          expect(encoder.take().rows).toBe(1)
        } else {
          read()
          expect(Buffer.from(encoder.take().bytes).equals(encodedByPush([[Buffer.from('before')], values]))).toBe(true)
        }
      }),
      {numRuns: 3000},
    )
  })

  it('refuse lengths no packet can hold, and rows of no column', () => {
    const encoder = new RowEncoder(new BufferPool(1024))
    const huge = Buffer.from([0xfe, 0, 0, 0, 0, 1, 0, 0, 0, 0x61])
    expect(() => encoder.pushPacket(huge, 0, huge.length, 1)).toThrow(/longer than the rest of the row/)
    const err = Buffer.from([0xff, 0x61])
    expect(() => encoder.pushPacket(err, 0, err.length, 1)).toThrow(/no valid length/)
    expect(() => encoder.pushPacket(Buffer.alloc(0), 0, 0, 1)).toThrow(MalformedRowError)
    expect(() => encoder.pushPacket(Buffer.from([0]), 0, 1, 0)).toThrow(MalformedRowError)
    expect(() => encoder.pushPacket(Buffer.from([1, 0x61]), 0, 2, 3)).toThrow(/3 values in a row of 2 bytes/)
    expect(encoder.length).toBe(0)
  })

  it('look again for bytes to escape once the buffer may have been written to (after the synchronous run)', async () => {
    const encoder = new RowEncoder(new BufferPool(1024))
    const buffer = rowPacket([Buffer.from('plain'), Buffer.from('text')])
    encoder.pushPacket(buffer, 0, buffer.length, 2)
    await Promise.resolve()
    buffer[3] = 0x09 // 'plain' becomes 'pl\tin': a buffer used again for other bytes
    encoder.pushPacket(buffer, 0, buffer.length, 2)
    expect(encoder.take().bytes.toString('latin1')).toBe('plain\ttext\npl\\tin\ttext\n')
  })
})
