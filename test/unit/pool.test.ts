// How our connections plan: generic plans for named statements (pruned when they run), custom
// plans inside withCustomPlans for the statements whose best plan depends on their values.
import assert from 'node:assert/strict';
import { createPool, withCustomPlans } from '../../db/pool.ts';
import { testDb } from '../helpers/db.ts';

describe('pool plan mode', () => {
  it('connections use generic plans; withCustomPlans plans with values for its transaction only', async () => {
    const pool = createPool(testDb().url, { max: 1, acquireTimeoutMs: 2000, statementTimeoutMs: 5000, onError: () => undefined });
    try {
      const mode = async () => (await pool.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0]!.plan_cache_mode;
      assert.equal(await mode(), 'force_generic_plan');
      const inside = await withCustomPlans(pool, async (c) => (await c.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0]!.plan_cache_mode);
      assert.equal(inside, 'force_custom_plan');
      assert.equal(await mode(), 'force_generic_plan', 'the same (only) connection is back to generic plans');
    } finally {
      await pool.end();
    }
  });
});
