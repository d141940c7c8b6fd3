// Two app instances on one database: every instance proposes each scheduled tick, and each tick
// runs exactly once cluster-wide (one job per pg-boss throttle slot).
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../helpers/app.ts';
import { sql } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';
import { QUEUES } from '../../jobs/index.ts';

const SLOTS = 4;

describe('scheduled jobs across instances', function () {
  this.timeout(120_000);
  const apps: TestApp[] = [];

  after(async () => {
    for (const a of apps) await a.close();
  });

  it('with two instances each scheduled run happens once per tick, not twice', async () => {
    const env = { COMPENSATION_CRON: '*/2 * * * * *', TTL_CLEANUP_CRON: '*/2 * * * * *' };
    apps.push(await startApp(env), await startApp(env));
    // Counted from when both are up: ticks before the second started were proposed by one only.
    const t0 = (await sql<{ now: Date }>('SELECT now()'))[0]!.now;

    const runsPerSlot = (job: string) => sql<{ slot: string; runs: number }>(
      `SELECT detail->>'slot' AS slot, count(*)::int AS runs FROM job_runs
       WHERE job = $1 AND started_at > $2 AND (detail->>'slot')::timestamptz > $2
       GROUP BY 1 ORDER BY 1`, [job, t0]);
    for (const job of [QUEUES.compensation, QUEUES.ttl]) {
      await waitFor(async () => (await runsPerSlot(job)).length >= SLOTS, { timeoutMs: 60_000, everyMs: 200, what: `${SLOTS} slots of ${job}` });
    }
    for (const job of [QUEUES.compensation, QUEUES.ttl]) {
      const triggers = apps.map((a) => a.service.jobs!.triggers.find((t) => t.queue === job)!);
      assert.equal(triggers[0]!.slotS, 2);
      const slots = await runsPerSlot(job);
      assert.deepEqual(slots.filter((s) => s.runs !== 1), [], `${job}: a slot ran more than once`);
      // Both instances proposed the ticks; only one proposal per tick became a job.
      const proposed = triggers.map((t) => t.stats.proposed);
      const enqueued = triggers.reduce((n, t) => n + t.stats.enqueued, 0);
      assert.ok(proposed.every((p) => p >= SLOTS), `${job}: proposals ${proposed}`);
      assert.ok(enqueued <= Math.ceil((proposed[0]! + proposed[1]!) / 2) + 1, `${job}: ${enqueued} enqueued of ${proposed} proposals`);
    }
  });
});
