/**
 * `npm run bench -- --verify [--tables 8] [--rows 200000] [--threads N] [--repeat R]`
 *
 * Times `datain verify` against `pt-table-checksum` on the same data, in the same run: a fresh
 * sandbox whose source holds `tables` sysbench-like tables of `rows` rows, set up and replicating
 * into the emulated Azure replica with `datain init` + `datain start`.
 *
 * - datain:  `datain verify --json` (`--parallel N` with --threads; the built CLI in its own process); its seconds,
 *            and its peak RSS (VmHWM). Then again with `--no-table-checksum`: every table chunk by
 *            chunk, which is what tables that take writes cost (their CHECKSUM TABLE differs).
 * - pt-table-checksum: what a DBA does against a replica pt cannot log in to as it wants (Azure's
 *            admin has no SUPER, and pt's replica discovery needs PROCESS and SHOW SLAVE HOSTS):
 *            run it as root on the source host (`--recursion-method=none`,
 *            `--no-check-replication-filters`), which writes its checksums to `percona.checksums`
 *            in statement format so that the replica computes its own; then wait until the replica
 *            has executed the source's position and run pt's documented query on the replica for the
 *            chunks that differ. Its time is the three together.
 *
 * With `--repeat R` the three are timed R times, one after the other in turn, so that a busy
 * machine slows each alike; the ratio is that of the medians.
 *
 * It prints figures and the ratio (target ≤ 0.5) and peak RSS (target ≤ 150 MB, flat with the
 * data's size: compare with a run at 4 × --rows); it does not fail on time.
 */
import {execa} from 'execa'
import {mkdtemp, rm} from 'node:fs/promises'
import {loadavg, tmpdir} from 'node:os'
import path from 'node:path'
import {type Sandbox, startSandbox} from '../sandbox/sandbox.js'
import {benchmarkStatements} from '../sandbox/sample-data.js'
import {DATABASE} from './bench/data.js'
import {root, runMeasured} from './bench/datain.js'

export async function benchVerify(options: {tables: number; rows: number; threads?: number; repeat?: number}): Promise<void> {
  // Without --threads, verify runs as a user runs it: with its own default number of sessions.
  const {tables, rows, threads, repeat = 1} = options
  const parallel = threads === undefined ? "verify's default --parallel" : `--parallel ${threads}`
  console.log(`datain verify bench: ${tables} tables × ${rows.toLocaleString('en-US')} rows, ${parallel}, ${repeat} round(s), load average ${load()}`)
  await execa('npm', ['run', '-s', 'build'], {cwd: root, stdio: 'inherit'})
  const sandbox = await startSandbox({sampleRows: 0})
  const home = await mkdtemp(path.join(tmpdir(), 'datain-bench-verify-'))
  try {
    sandbox.azure.state.firewallRules.set('bench-loopback', {name: 'bench-loopback', startIpAddress: '127.0.0.1', endIpAddress: '127.0.0.1'})
    await sandbox.source.server.execute([...benchmarkStatements({tables, rows, database: DATABASE}), `ANALYZE TABLE ${tableNames(tables).join(', ')}`])
    const env = {PATH: process.env.PATH, HOME: process.env.HOME, ...sandbox.env(), DATAIN_HOME: home, DATAIN_VERIFY_CHUNK_ROWS: process.env.DATAIN_VERIFY_CHUNK_ROWS}
    // Every database but the system ones: no replication filter, so pt's percona.checksums replicates too.
    for (const args of [['init'], ['start']]) {
      const r = await execa(process.execPath, [path.join(root, 'bin', 'run.js'), ...args], {env, extendEnv: false, reject: false})
      if (r.exitCode !== 0) throw new Error(`datain ${args[0]} exited ${r.exitCode}: ${r.stderr.split('\n').slice(-5).join(' ')}`)
    }
    console.log('replicating; timing datain verify, chunk by chunk, and pt-table-checksum in turn…')
    const seconds = {datain: [] as number[], chunked: [] as number[], pt: [] as number[]}
    let peakRssMb = 0
    for (let round = 1; round <= repeat; round++) {
      const label = repeat > 1 ? ` #${round}` : ''
      const datain = await timeDatain(env, threads, [])
      console.log(`datain verify${label}: ${datain.seconds.toFixed(1)} s, peak RSS ${datain.peakRssMb.toFixed(0)} MB, ${datain.summary}`)
      // What a table that takes writes costs: CHECKSUM TABLE differs there, and every chunk is compared.
      const chunked = await timeDatain(env, threads, ['--no-table-checksum'])
      console.log(`datain verify, chunk by chunk (--no-table-checksum)${label}: ${chunked.seconds.toFixed(1)} s, peak RSS ${chunked.peakRssMb.toFixed(0)} MB, ${chunked.summary}`)
      const pt = await timePt(sandbox)
      console.log(`pt-table-checksum${label}: ${pt.seconds.toFixed(1)} s (checksums on the source ${pt.sourceSeconds.toFixed(1)} s, replica caught up and compared ${(pt.seconds - pt.sourceSeconds).toFixed(1)} s), ${pt.summary}`)
      seconds.datain.push(datain.seconds)
      seconds.chunked.push(chunked.seconds)
      seconds.pt.push(pt.seconds)
      peakRssMb = Math.max(peakRssMb, datain.peakRssMb, chunked.peakRssMb)
    }
    const [datain, chunked, pt] = [median(seconds.datain), median(seconds.chunked), median(seconds.pt)]
    console.log('')
    if (repeat > 1) console.log(`medians: datain verify ${datain.toFixed(2)} s, chunk by chunk ${chunked.toFixed(2)} s, pt-table-checksum ${pt.toFixed(2)} s; load average ${load()}`)
    console.log(`datain verify / pt-table-checksum: ${(datain / pt).toFixed(2)}  (target ≤ 0.50)`)
    console.log(`datain verify chunk by chunk / pt-table-checksum: ${(chunked / pt).toFixed(2)}`)
    console.log(`datain verify peak RSS: ${peakRssMb.toFixed(0)} MB  (target ≤ 150 MB, flat: compare with --rows ${rows * 4})`)
  } finally {
    await sandbox.stop()
    await rm(home, {recursive: true, force: true})
  }
}

async function timeDatain(env: Record<string, string | undefined>, threads: number | undefined, extra: string[]): Promise<{seconds: number; peakRssMb: number; summary: string}> {
  const {result, seconds, peakRssMb} = await runMeasured([path.join(root, 'bin', 'run.js'), 'verify', '--json', ...(threads === undefined ? [] : ['--parallel', String(threads)]), ...extra], env)
  if (result.exitCode !== 0) throw new Error(`datain verify exited ${result.exitCode}: ${result.stdout.slice(0, 500)} ${result.stderr.slice(-500)}`)
  const report = JSON.parse(result.stdout) as {rowsCompared: number; tablesCompared: number; identical: boolean}
  return {seconds, peakRssMb, summary: `${report.tablesCompared} tables, ${report.rowsCompared.toLocaleString('en-US')} rows, identical: ${report.identical}`}
}

async function timePt(sandbox: Sandbox): Promise<{seconds: number; sourceSeconds: number; summary: string}> {
  const started = performance.now()
  const pt = await execa(
    'pt-table-checksum',
    [`--databases=${DATABASE}`, '--recursion-method=none', '--no-check-replication-filters', '--no-version-check', `S=${sandbox.source.server.socket},u=root`],
    {reject: false},
  )
  const sourceSeconds = (performance.now() - started) / 1000
  // pt exits non-zero with flags for warnings/differences; only a missing result is a failure.
  if (!/\bTS\b/.test(pt.stdout)) throw new Error(`pt-table-checksum exited ${pt.exitCode}: ${pt.stdout.slice(-500)} ${pt.stderr.slice(-500)}`)
  const [{pos}] = (await sandbox.source.server.query<Array<{pos: string}>>('SELECT @@gtid_binlog_pos AS pos')) as [{pos: string}]
  const [{r}] = (await sandbox.replica.server.query<Array<{r: number}>>('SELECT MASTER_GTID_WAIT(?, 600) AS r', [pos])) as [{r: number}]
  if (Number(r) !== 0) throw new Error('the replica did not execute pt-table-checksum’s checksums within 600 s')
  const differing = await sandbox.replica.server.query<Array<{db: string; tbl: string}>>(
    `SELECT db, tbl, SUM(this_cnt) AS total_rows, COUNT(*) AS chunks FROM percona.checksums
      WHERE (master_cnt <> this_cnt OR master_crc <> this_crc OR ISNULL(master_crc) <> ISNULL(this_crc)) GROUP BY db, tbl`,
  )
  const [{chunks}] = (await sandbox.replica.server.query<Array<{chunks: bigint}>>('SELECT COUNT(*) AS chunks FROM percona.checksums')) as [{chunks: bigint}]
  const seconds = (performance.now() - started) / 1000
  return {seconds, sourceSeconds, summary: `${String(chunks)} chunks, ${differing.length} tables differing`}
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ')

function tableNames(tables: number): string[] {
  return Array.from({length: tables}, (_, i) => `\`${DATABASE}\`.\`sbtest${i + 1}\``)
}
