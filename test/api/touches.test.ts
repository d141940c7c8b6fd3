// Starts of polls and streams asked for in one turn share one statement per tenant: new devices
// start at the retention floor, `since` acknowledges up to the head and never backwards, a device
// asked for twice in one turn is touched twice (in two statements), and a start beyond the head
// leaves the cursor alone.
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { sql } from '../helpers/db.ts';
import { DeviceTouches } from '../../app/services/touches.ts';
import type { Queryable } from '../../db/pool.ts';

describe('device touches (where polls and streams start)', () => {
  let app: TestApp;
  before(async () => { app = await startApp(); });
  after(() => app.close());

  it('one statement for many starts in one turn; the same device twice goes in a second one', async () => {
    const db = app.service.deps.db;
    let statements = 0;
    const counting = { query: (q: never) => { statements++; return db.query(q); } } as unknown as Queryable;
    const touches = new DeviceTouches(counting);
    const t = app.tenant.id;
    const users = Array.from({ length: 40 }, () => uid('t'));
    for (const u of users.slice(0, 20)) await app.publish({ to: [u], payload: {} });
    await app.publish({ to: [users[0]!], payload: {} }); // users[0] has 2 entries, users 1..19 one, 20..39 none

    const states = await Promise.all([
      ...users.map((u, i) => touches.touch(t, u, 'd', i < 20 ? 1 : null)),
      touches.touch(t, users[0]!, 'd', 2), // the same device again, further on
      touches.touch(t, users[1]!, 'other', 5), // beyond the head: not acknowledged
    ]);
    assert.equal(statements, 2, 'one batched statement, one for the repeated device');
    assert.deepEqual(states[0], { head: 2, read: 0, floor: 0, acked: 1, prev: 0 });
    assert.deepEqual(states[1], { head: 1, read: 0, floor: 0, acked: 1, prev: 0 });
    assert.deepEqual(states[25], { head: 0, read: 0, floor: 0, acked: 0, prev: 0 });
    assert.deepEqual(states[40], { head: 2, read: 0, floor: 0, acked: 2, prev: 1 });
    assert.deepEqual(states[41], { head: 1, read: 0, floor: 0, acked: 0, prev: 0 });

    const rows = await sql<{ user_id: string; device_id: string; acked_seq: number }>(
      'SELECT user_id, device_id, acked_seq FROM devices WHERE tenant_id = $1 AND user_id = ANY($2) ORDER BY user_id, device_id', [t, users]);
    assert.equal(rows.length, 41);
    assert.equal(rows.find((r) => r.user_id === users[0])!.acked_seq, 2);
    // Never backwards: an older since leaves the cursor where it is.
    const again = await touches.touch(t, users[0]!, 'd', 1);
    assert.deepEqual(again, { head: 2, read: 0, floor: 0, acked: 2, prev: 2 });
  });
});
