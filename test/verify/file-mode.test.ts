import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {VerifyResult} from '../../src/verify/result.js'
import type {AnySandbox} from '../../sandbox/sandbox.js'
import {TARGETS} from '../helpers/targets.js'
import {dispose, type Env, expectNoSecrets, json, replicatingTargetEnv} from '../stop/helpers.js'

/**
 * `datain verify` on a profile linked by binlog file and position (`init --no-gtid`): a recheck
 * waits with MASTER_POS_WAIT on the source's snapshot coordinates, as the Azure admin may. For every target.
 */
describe.each(TARGETS)('datain verify with --no-gtid, --target %s', (target) => {
  let e: Env<AnySandbox> | undefined
  beforeAll(async () => {
    e = await replicatingTargetEnv(target, {}, ['--no-gtid'])
  }, 240_000)
  afterAll(async () => {
    if (e) expectNoSecrets(e)
    await dispose(e)
  })

  it('waits for a replica behind by file and position, then names a row changed behind its back', async () => {
    const replica = e!.sandbox.replica.server
    expect((await replica.query<Array<{Using_Gtid: string}>>('SHOW SLAVE STATUS'))[0]?.Using_Gtid).toBe('No')
    await replica.execute(['STOP SLAVE', 'CHANGE MASTER TO MASTER_DELAY = 10', 'START SLAVE'])
    try {
      await e!.sandbox.source.server.execute(['UPDATE shop.order_items SET quantity = quantity + 1 WHERE order_id <= 50'])
      const lagging = await json<VerifyResult>(e!, ['verify', '--tables', 'shop.order_items', '--wait-timeout', '40'], 0)
      expect(lagging.tables[0]!.rechecks).toBeGreaterThan(0)
    } finally {
      await replica.execute(['STOP SLAVE', 'CHANGE MASTER TO MASTER_DELAY = 0', 'START SLAVE'])
    }
    const conn = await replica.connectAsRoot()
    try {
      await conn.query('SET SESSION sql_log_bin = 0')
      await conn.query('UPDATE shop.order_items SET quantity = quantity + 7 WHERE order_id = 3 AND `order` = 1')
    } finally {
      await conn.end()
    }
    const drift = await json<VerifyResult>(e!, ['verify'], 1)
    expect(drift.tables.filter((t) => t.differencesTotal > 0).map((t) => [t.table, t.differences])).toEqual([['shop.order_items', [{order_id: '3', order: '1'}]]])
  }, 120_000)
})
