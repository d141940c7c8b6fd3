// The group-commit publisher with more than one transaction in flight (PUBLISH_CONCURRENCY > 1):
// a later publish must never take a lower seq than an earlier one to the same user, although two
// transactions take inbox row locks in whatever order they reach them. The first statement is
// held back here (as a slow statement would be) to let a later one overtake it if allowed.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import pg from 'pg';
import { Publisher, type PublishInput, type PublishResult } from '../../app/services/publish.ts';
import { createTenant } from '../../app/services/credentials.ts';
import { putGroup } from '../../app/services/groups.ts';
import type { Pool } from '../../db/pool.ts';
import { testDb } from '../helpers/db.ts';

interface Tracked { settled: boolean; result: Promise<PublishResult> }

describe('publisher with concurrent batches', () => {
  let pool: pg.Pool;
  /** Publish statements (by call number, from 1) held back until released. */
  let gates: Map<number, { held: Promise<void>; release: () => void }>;
  let release: () => void;
  let publisher: Publisher;
  let tenantId: string;

  const hold = (call: number) => {
    let open!: () => void;
    const held = new Promise<void>((r) => { open = r; });
    gates.set(call, { held, release: open });
    return open;
  };
  const make = (concurrency: number) => {
    let calls = 0;
    // The pool, except that the publish statements with a gate wait until the test opens it.
    const db = {
      query: async (cfg: pg.QueryConfig) => {
        if (cfg.name === 'publish_batch') await gates.get(++calls)?.held;
        return pool.query(cfg);
      },
    } as unknown as Pool;
    publisher = new Publisher(db, {
      batchMax: 256, concurrency, groupInlineMax: 1000, onFanoutError: () => undefined,
      fanout: { enqueue: async () => { throw new Error('no group here is large enough to queue'); } },
    });
  };

  beforeEach(async () => {
    pool = new pg.Pool({ connectionString: testDb().url, max: 6 });
    tenantId = `pub${crypto.randomBytes(4).toString('hex')}`;
    await createTenant(pool, tenantId, 86400);
    gates = new Map();
    release = hold(1);
    make(3);
  });

  afterEach(async () => {
    for (const g of gates.values()) g.release();
    await pool.end();
  });

  const input = (to: string[], extra: Partial<PublishInput> = {}): PublishInput => ({
    tenantId, sender: 'system', senderIsUser: false, to, group: null, memberOnly: false, type: 't',
    payloadJson: '{}', dedupId: null, ttlS: 3600, ...extra,
  });
  const track = (i: PublishInput): Tracked => {
    const t: Tracked = { settled: false, result: publisher.publish(i) };
    void t.result.finally(() => { t.settled = true; }).catch(() => undefined);
    return t;
  };
  const turns = () => new Promise((r) => setTimeout(r, 50));

  it('a publish to a user written by a batch in flight waits for it; one to another user does not', async () => {
    const first = track(input(['bob']));
    await turns();
    const second = track(input(['bob', 'carol']));
    const other = track(input(['dave']));
    const third = track(input(['carol']));
    // dave shares no inbox with the held batch: it commits meanwhile.
    assert.equal((await other.result).body.seqs.dave, 1);
    await turns();
    assert.equal(first.settled, false);
    assert.equal(second.settled, false, 'a publish to bob overtook the earlier one still in flight');
    assert.equal(third.settled, false, 'a publish to carol overtook an earlier one to carol that waits');
    release();
    assert.equal((await first.result).body.seqs.bob, 1);
    assert.deepEqual({ ...(await second.result).body.seqs }, { bob: 2, carol: 1 });
    assert.equal((await third.result).body.seqs.carol, 2);
  });

  it('a group message waits for every batch in flight, and later publishes wait for it', async () => {
    await putGroup(pool, tenantId, 'team', ['bob', 'erin'], null, 1000);
    const first = track(input(['carol']));
    await turns();
    const group = track(input([], { group: 'team' }));
    await turns();
    const after = track(input(['erin']));
    await turns();
    assert.equal(group.settled, false, 'the group message ran beside a batch in flight');
    assert.equal(after.settled, false, 'a publish passed the group message ahead of it');
    release();
    await first.result;
    assert.deepEqual({ ...(await group.result).body.seqs }, { bob: 1, erin: 1 });
    assert.equal((await after.result).body.seqs.erin, 2);
  });

  it('when a batch fails, its messages are stored again one by one, in order', async () => {
    make(1);
    const first = track(input(['zed']));
    await turns();
    // Queued behind the held statement, these three form the next batch; the middle one's TTL
    // is out of the column's range (the edge never lets that through), so the batch fails and
    // each message is stored on its own.
    const a = track(input(['bob']));
    const bad = track(input(['bob'], { ttlS: 2 ** 31 }));
    const b = track(input(['bob']));
    const retryOfA = hold(3);
    release();
    await first.result;
    await turns();
    assert.equal(b.settled, false, 'the retry of a later message ran beside the earlier one');
    retryOfA();
    await assert.rejects(bad.result);
    assert.equal((await a.result).body.seqs.bob, 1);
    assert.equal((await b.result).body.seqs.bob, 2);
  });
});
