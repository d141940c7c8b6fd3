import assert from 'node:assert/strict';
import { DeliveredLog } from '../../app/services/delivered.ts';

describe('delivered hints', () => {
  it('merge notes across event-loop turns into one statement per tenant, with each device’s latest seq', async () => {
    const calls: unknown[][] = [];
    const db = { query: async (q: { values: unknown[] }) => { calls.push(q.values); return { rows: [], rowCount: 0 }; } };
    const log = new DeliveredLog(db as never, (err) => { throw err; });
    // A fan-out of 5 messages to 100 streams, one message per turn (as the hand-over writes them).
    for (let m = 1; m <= 5; m++) {
      for (let u = 0; u < 100; u++) log.note('t1', `u${u}`, 'd', m);
      await new Promise((r) => setImmediate(r));
    }
    log.note('t2', 'x', 'd', 7);
    log.note('t1', 'u0', 'd', 3); // older than what u0 already has: ignored
    assert.equal(calls.length, 0, 'nothing written within the flush window');
    await log.settle();
    assert.equal(calls.length, 2, 'one statement per tenant');
    const t1 = calls.find((v) => v[0] === 't1')!;
    assert.equal((t1[1] as string[]).length, 100);
    assert.deepEqual(new Set(t1[3] as number[]), new Set([5]));
    assert.deepEqual(calls.find((v) => v[0] === 't2')!.slice(1), [['x'], ['d'], [7]]);
  });
});
