/**
 * `DATAIN_DEBUG=1`: where a verify run's wall time goes, one stderr line per phase, in milliseconds
 * since the process started (so that start-up and imports count too). Off, it costs one env read.
 */
export function phase(label: string): void {
  if (process.env.DATAIN_DEBUG) process.stderr.write(`datain debug: verify ${Math.round(performance.now())} ms ${label}\n`)
}
