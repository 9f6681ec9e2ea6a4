/**
 * A fix for the MariaDB connector (3.5.4, the newest as of 2026-11): after the last data of a
 * `LOAD DATA LOCAL` it calls `flushBuffer(false)` without a remaining length, and
 * `createBufferWithMinSize(undefined)` then picks its largest size (`undefined + 4 < n` is false
 * for every n): a new 16 MiB buffer for every statement, dropped a moment later. The memory is
 * never touched, but V8 counts it: 6 GB "allocated" for a 377 MB copy made it run a full garbage
 * collection every few statements, about a third of datain's CPU during the copy. With no length
 * it now means none, which is what the caller says.
 */
const url = new URL('./lib/io/packet-output-stream.js', import.meta.resolve('mariadb'))
// The package exports only its entry points; the file by its URL is the very module the connector uses.
const {default: PacketOutputStream} = (await import(url.href)) as {default: {prototype: Record<string, unknown>}}
const original = PacketOutputStream.prototype.createBufferWithMinSize

/** True when the connector has the method this fixes (a later version may not: then nothing is changed). */
export const connectorFixed = typeof original === 'function'

if (connectorFixed) {
  const create = original as (this: unknown, remainingLen: number) => Buffer
  PacketOutputStream.prototype.createBufferWithMinSize = function (this: unknown, remainingLen?: number): Buffer {
    return create.call(this, remainingLen ?? 0)
  }
}
