/**
 * `--pin-replica`: the replica's server on cores of its own, as a real replica has, and everything
 * else (the source's server, this process with its gateway, and every tool or datain it starts)
 * on the others. On a machine whose cores all four share, what datain's copy reaches of the
 * replica's limit says as much about the machine as about datain; pinned, the limit is the
 * replica's cores alone and the copy shows whether datain's path keeps them busy.
 */
import {execa} from 'execa'
import {availableParallelism} from 'node:os'
import type {Sandbox} from '../../sandbox/sandbox.js'

/** The replica gets the first half of the cores (at least one), the rest get the others. */
export async function pinReplica(sandbox: Sandbox, cores = availableParallelism()): Promise<string> {
  if (cores < 2) throw new Error('--pin-replica needs 2 cores or more')
  const replicaCores = Math.max(1, Math.floor(cores / 2))
  const own = `0-${replicaCores - 1}`
  const rest = `${replicaCores}-${cores - 1}`
  // -a: every thread of the process, as mariadbd's work is done by its threads.
  await execa('taskset', ['-a', '-p', '-c', own, String(sandbox.replica.server.pid)])
  await execa('taskset', ['-a', '-p', '-c', rest, String(sandbox.source.server.pid)])
  // Children started later (datain, mariadb-dump, mydumper) inherit this process's cores.
  await execa('taskset', ['-a', '-p', '-c', rest, String(process.pid)])
  return `replica's server on cores ${own}; the source's server, the gateway (this process) and every tool on cores ${rest}`
}
