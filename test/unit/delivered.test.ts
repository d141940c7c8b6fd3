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

describe('device seq batches (delivered hints, poll acknowledgements)', () => {
  it("a note's round is written when hurried, and `done` settles only after the write, failed or not", async () => {
    const { DeviceSeqBatches } = await import('../../app/services/deviceSeqs.ts');
    const written: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const errors: unknown[] = [];
    const b = new DeviceSeqBatches(60_000, async (t, users, _devices, seqs) => {
      await gate;
      written.push(`${t}:${users.join(',')}:${seqs.join(',')}`);
      if (t === 'bad') throw new Error('write failed');
    }, (e) => errors.push(e));
    const one = b.note('t1', 'u', 'd', 4);
    b.note('t1', 'u', 'd', 3); // lower: ignored
    b.note('bad', 'v', 'd', 1);
    let done = false;
    void one.done.then(() => { done = true; });
    one.hurry(); // without it the 60 s timer would hold the round
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'not settled while the write is in flight');
    release();
    await one.done;
    assert.deepEqual(written.sort(), ['bad:v:1', 't1:u:4']);
    assert.equal(errors.length, 1);
    const later = b.note('t1', 'u', 'd', 5);
    later.hurry();
    one.hurry(); // its round is gone: nothing happens
    await later.done;
    assert.equal(written.length, 3);
    await b.settle();
  });
});
