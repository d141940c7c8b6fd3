// withCustomPlans: the statements whose best plan depends on their values are planned with them
// every time, whatever PostgreSQL would choose after five runs; the connection is unchanged after.
import assert from 'node:assert/strict';
import { createPool, withCustomPlans } from '../../db/pool.ts';
import { testDb } from '../helpers/db.ts';

describe('pool plan mode', () => {
  it('withCustomPlans plans with values for its transaction only', async () => {
    const pool = createPool(testDb().url, { max: 1, acquireTimeoutMs: 2000, statementTimeoutMs: 5000, onError: () => undefined });
    try {
      const mode = async () => (await pool.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0]!.plan_cache_mode;
      const before = await mode();
      assert.notEqual(before, 'force_custom_plan');
      const inside = await withCustomPlans(pool, async (c) => (await c.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0]!.plan_cache_mode);
      assert.equal(inside, 'force_custom_plan');
      assert.equal(await mode(), before, 'the same (only) connection is back to its setting');
    } finally {
      await pool.end();
    }
  });
});
