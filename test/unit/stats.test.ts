// Cached operations figures: one read per cache period, and an unreachable database gives stale
// (or empty) figures instead of failing the scrape.
import assert from 'node:assert/strict';
import { Stats } from '../../app/ops/stats.ts';
import { createPool } from '../../db/pool.ts';
import { testDb } from '../helpers/db.ts';

describe('operations figures cache', () => {
  it('reads once per period however many ask', async () => {
    const pool = createPool(testDb().url, { max: 2, acquireTimeoutMs: 2000, statementTimeoutMs: 5000, onError: () => undefined });
    try {
      const s = new Stats(pool, 60_000);
      const [a, b] = await Promise.all([s.get(), s.get()]);
      assert.equal(a, b, 'concurrent callers share one read');
      assert.equal(await s.get(), a, 'cached within the period');
      assert.equal(a.stale, undefined);
    } finally {
      await pool.end();
    }
  });

  it('an unreachable database yields empty figures marked stale, not an error', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const pool = createPool('postgres://nobody@127.0.0.1:1/none', { max: 1, acquireTimeoutMs: 2000, statementTimeoutMs: 2000, onError: () => undefined });
    try {
      const f = await new Stats(pool, 0).get();
      assert.equal(f.stale, true);
      assert.equal(f.outboxBacklog, null);
      assert.deepEqual(f.lastRuns, []);
    } finally {
      await pool.end();
    }
  });
});
