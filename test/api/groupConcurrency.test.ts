import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { sql } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

// Three overlapping groups, one fanned out inline and two by queued batches (small limits make
// every path run at once): inline publishes and fan-out batches lock overlapping inbox sets.
describe('concurrent publishes into overlapping groups', () => {
  let app: TestApp;
  before(async () => { app = await startApp({ GROUP_INLINE_MAX: '25', GROUP_FANOUT_BATCH: '7' }); });
  after(async () => { await app.close(); });

  it('10 publishers, 3 overlapping groups, a few seconds: no deadlock, no gap, no duplicate', async function () {
    this.timeout(120_000);
    const p = uid('p');
    const user = (i: number) => `${p}-${String(i).padStart(2, '0')}`;
    const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => user(a + i));
    const groups: Record<string, string[]> = {
      [`${p}-A`]: range(0, 20), // inline
      [`${p}-B`]: range(10, 40), // queued
      [`${p}-C`]: [...range(0, 5), ...range(30, 60)], // queued, overlaps both
    };
    for (const [g, members] of Object.entries(groups)) {
      const r = await app.http.put(`/v1/groups/${g}`).set('Authorization', `Bearer ${app.tenant.adminKey}`).send({ members });
      assert.equal(r.status, 201);
    }
    const names = Object.keys(groups);
    // Senders are members too (their copy is one more overlapping lock) or outsiders.
    const senders = [user(0), user(15), user(35), user(55), `${p}-x1`, `${p}-x2`, user(5), user(25), user(45), `${p}-x3`];
    const sent: { id: string; group: string; from: string; status: number }[] = [];
    const failures: string[] = [];
    const until = Date.now() + 3000;
    await Promise.all(senders.map(async (from, k) => {
      for (let i = 0; Date.now() < until; i++) {
        const group = names[(k + i) % 3]!;
        const r = await app.http.post('/v1/messages').set('Authorization', `Bearer ${app.tenant.adminKey}`).send({ group, from, payload: { k, i } });
        if (r.status === 201 || r.status === 202) sent.push({ id: r.body.id, group, from, status: r.status });
        else failures.push(`${r.status} ${r.text}`);
      }
    }));
    assert.deepEqual(failures, [], 'no publish failed (a deadlock would be a 500)');
    assert.ok(sent.some((s) => s.status === 201) && sent.some((s) => s.status === 202), 'both paths ran');
    await waitFor(async () => (await sql(`SELECT count(*)::int AS n FROM outbox WHERE tenant_id = $1 AND state = 'pending'`, [app.tenant.id]))[0]!.n === 0,
      { timeoutMs: 90_000, what: 'all fan-outs done' }).catch(async (err) => {
      // Show what is stuck: the outbox rows and the queue's jobs.
      console.log(await sql(`SELECT total, done, attempts, last_error FROM outbox WHERE tenant_id = $1 AND state = 'pending' LIMIT 5`, [app.tenant.id]),
        await sql(`SELECT state, count(*)::int FROM mailslot_jobs.job WHERE name = 'fanout' GROUP BY 1`));
      throw err;
    });

    const everyone = [...new Set([...Object.values(groups).flat(), ...senders])];
    const rows = await sql<{ user_id: string; seq: number; message_id: string }>(
      'SELECT user_id, seq::int, message_id::text FROM inbox_entries WHERE tenant_id = $1 ORDER BY user_id, seq', [app.tenant.id]);
    const got = new Map<string, string[]>(everyone.map((u) => [u, []]));
    for (const r of rows) {
      const list = got.get(r.user_id)!;
      assert.equal(r.seq, list.length + 1, `gap in ${r.user_id}'s inbox at ${r.seq}`);
      list.push(r.message_id);
    }
    for (const u of everyone) {
      const expected = sent.filter((s) => groups[s.group]!.includes(u) || s.from === u).map((s) => s.id).sort();
      const list = got.get(u)!;
      assert.equal(new Set(list).size, list.length, `duplicate in ${u}'s inbox`);
      assert.deepEqual([...list].sort(), expected, `${u} got exactly its messages`);
    }
    const deadlocks = await sql(`SELECT count(*)::int AS n FROM job_runs WHERE job = 'fanout' AND error IS NOT NULL AND started_at > now() - interval '5 minutes'`);
    assert.equal(deadlocks[0]!.n, 0, 'no fan-out run failed');
    console.log(`      ${sent.length} publishes (${sent.filter((s) => s.status === 202).length} queued), ${rows.length} entries`);
  });
});
