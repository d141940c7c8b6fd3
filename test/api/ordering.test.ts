import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { sql } from '../helpers/db.ts';

describe('ordering under concurrency', () => {
  let app: TestApp;
  before(async () => { app = await startApp(); });
  after(async () => { await app.close(); });

  it('20 concurrent publishers, 5 users, 2,000 messages: inboxes are exactly 1..N and a live poller never sees N+1 before N', async function () {
    this.timeout(120_000);
    const users = Array.from({ length: 5 }, () => uid('o'));
    const watched = users[0]!;
    const token = await app.token(watched);
    const seen: number[] = [];
    let done = false;
    // The poller reads while the publishers write; every answer must continue exactly where it left off.
    const poller = (async () => {
      let since = 0;
      for (;;) {
        const r = await app.http.get(`/v1/poll?since=${since}&timeout=1&limit=37`).set('Authorization', `Bearer ${token}`);
        assert.equal(r.status, 200, r.text);
        for (const m of r.body.messages) {
          assert.equal(m.seq, since + 1, `got seq ${m.seq} right after ${since}`);
          seen.push(m.seq);
          since = m.seq;
        }
        if (done && since >= 2000) break;
      }
    })();
    let n = 0;
    await Promise.all(Array.from({ length: 20 }, async (_, p) => {
      for (let i = 0; i < 100; i++) {
        // Each message goes to a varying subset of the users, in varying order.
        const to = users.filter((_, k) => (k + i + p) % 3 !== 0 || k === 0).sort(() => Math.random() - 0.5);
        await app.publish({ to, payload: { p, i } });
        n++;
      }
    }));
    done = true;
    await poller;
    assert.equal(n, 2000);
    const rows = await sql<{ user_id: string; n: string; mn: string; mx: string; head: string }>(
      `SELECT e.user_id, count(*) AS n, min(seq) AS mn, max(seq) AS mx, max(i.head_seq) AS head
       FROM inbox_entries e JOIN inboxes i USING (tenant_id, user_id) WHERE e.tenant_id = $1 GROUP BY e.user_id`, [app.tenant.id]);
    assert.equal(rows.length, 5);
    for (const r of rows) {
      assert.equal(Number(r.mn), 1);
      assert.equal(Number(r.mx), Number(r.n), `inbox of ${r.user_id} has a gap`);
      assert.equal(Number(r.head), Number(r.n));
    }
    const watchedRow = rows.find((r) => r.user_id === watched)!;
    assert.equal(Number(watchedRow.n), 2000, 'user 0 is in every message');
    assert.deepEqual(seen, Array.from({ length: 2000 }, (_, i) => i + 1));
  });

  it('publishes are stored in the order they arrived, even when a group publish looks up its group first', async () => {
    const group = uid('g');
    const member = uid('m');
    await app.http.put(`/v1/groups/${group}`).set('Authorization', `Bearer ${app.tenant.adminKey}`).send({ members: [member] }).expect(201);
    const publisher = app.service.deps.publisher;
    const base = { tenantId: app.tenant.id, sender: 'system', senderIsUser: false, memberOnly: false, type: 't', dedupId: null, ttlS: 3600 };
    // Arrival order: group, direct, group, direct… The direct ones need no lookup; without the
    // arrival-order queue they would overtake the group ones.
    const sent = Array.from({ length: 20 }, (_, i) => publisher.publish(i % 2 === 0
      ? { ...base, to: [], group, payloadJson: JSON.stringify({ i }) }
      : { ...base, to: [member], group: null, payloadJson: JSON.stringify({ i }) }));
    const results = await Promise.all(sent);
    assert.deepEqual(results.map((r) => (r.body as { seqs: Record<string, number> }).seqs[member]), Array.from({ length: 20 }, (_, i) => i + 1));
    // A failure before the queue (unknown group) does not hold up the ones behind it.
    const failed = publisher.publish({ ...base, to: [], group: uid('nope'), payloadJson: '{}' });
    const after = publisher.publish({ ...base, to: [member], group: null, payloadJson: '{}' });
    await assert.rejects(failed, /unknown group/);
    assert.equal(((await after).body as { seqs: Record<string, number> }).seqs[member], 21);
  });
});
