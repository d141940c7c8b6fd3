// TTL cleanup: expired messages go (entries, bodies, dedup ids), the retention floor moves, and a
// reader behind it is told so; nothing unexpired is touched. Real pg-boss runs it every second.
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { openSse } from '../helpers/sse.ts';
import { sql } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

describe('TTL cleanup', function () {
  this.timeout(60_000);
  let app: TestApp;

  before(async () => { app = await startApp({ TTL_CLEANUP_CRON: '* * * * * *' }); });
  after(async () => { await app.close(); });

  const entries = async (user: string) => (await sql<{ seq: number }>(
    'SELECT seq FROM inbox_entries WHERE tenant_id = $1 AND user_id = $2 ORDER BY seq', [app.tenant.id, user])).map((r) => Number(r.seq));
  const messageExists = async (id: string) => (await sql('SELECT 1 FROM messages WHERE tenant_id = $1 AND id = $2', [app.tenant.id, id])).length === 1;
  /** Waits until the database clock is past every expiry of these messages. */
  const expired = (ids: string[]) => waitFor(async () => (await sql<{ n: number }>(
    'SELECT count(*)::int AS n FROM messages WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND expires_at > now()', [app.tenant.id, ids]))[0]!.n === 0,
  { what: 'expiry' });

  it('short-TTL messages vanish; the floor moves; 410 / reset behind it; unexpired untouched; dedupId reusable', async () => {
    const bob = uid('bob');
    const carol = uid('carol');
    const sender = uid('alice');
    const m1 = await app.publish({ to: [bob], from: sender, payload: { n: 1 }, ttlSeconds: 1, dedupId: 'once' });
    const m2 = await app.publish({ to: [bob], payload: { n: 2 }, ttlSeconds: 1 });
    const m3 = await app.publish({ to: [bob], payload: { n: 3 }, ttlSeconds: 3600 });
    const c1 = await app.publish({ to: [carol], payload: { n: 1 }, ttlSeconds: 3600 });
    // Before expiry the dedupId is taken.
    const dup = await app.http.post('/v1/messages').set('Authorization', `Bearer ${app.tenant.adminKey}`)
      .send({ to: [bob], from: sender, payload: { n: 1 }, ttlSeconds: 1, dedupId: 'once' });
    assert.equal(dup.body.duplicate, true);

    await expired([m1.id, m2.id]);
    // m1 went to bob and to its sender's own inbox; both entries and the body go.
    await waitFor(async () => (await entries(bob)).length === 1 && !(await messageExists(m1.id)) && !(await messageExists(m2.id)),
      { timeoutMs: 20_000, what: 'cleanup' });
    assert.deepEqual(await entries(bob), [3]);
    assert.deepEqual(await entries(sender), []);
    assert.equal(await messageExists(m3.id), true);
    assert.equal(await messageExists(c1.id), true);
    assert.deepEqual(await entries(carol), [1]);
    const [ib] = await sql<{ floor_seq: number; head_seq: number }>('SELECT floor_seq, head_seq FROM inboxes WHERE tenant_id = $1 AND user_id = $2', [app.tenant.id, bob]);
    assert.deepEqual([Number(ib!.floor_seq), Number(ib!.head_seq)], [2, 3]);
    const [sib] = await sql<{ floor_seq: number }>('SELECT floor_seq FROM inboxes WHERE tenant_id = $1 AND user_id = $2', [app.tenant.id, sender]);
    assert.equal(Number(sib!.floor_seq), 1, 'an inbox with nothing left has its floor at its head');

    const token = await app.token(bob);
    const behind = await app.http.get('/v1/poll?since=0&timeout=0&ack=false').set('Authorization', `Bearer ${token}`);
    assert.equal(behind.status, 410);
    assert.deepEqual([behind.body.error, behind.body.oldest], ['cursor_expired', 3]);
    const resumed = await app.http.get('/v1/poll?since=2&timeout=0&ack=false').set('Authorization', `Bearer ${token}`);
    assert.deepEqual(resumed.body.messages.map((m: { seq: number }) => m.seq), [3]);

    const s = await openSse(app.url, '/v1/stream?since=0', { authorization: `Bearer ${token}` });
    try {
      await s.waitFor((c) => c.messages().length === 1);
      const kinds = s.events.filter((e) => e.event !== 'ready').map((e) => [e.event, e.event === 'reset' ? JSON.parse(e.data).oldest : e.id]);
      assert.deepEqual(kinds, [['reset', 3], ['message', '3']]);
    } finally {
      s.close();
    }

    // The expired dedupId is free again: a new message, not a duplicate.
    const again = await app.http.post('/v1/messages').set('Authorization', `Bearer ${app.tenant.adminKey}`)
      .send({ to: [bob], from: sender, payload: { n: 1 }, ttlSeconds: 60, dedupId: 'once' });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.body.duplicate, false);
    assert.notEqual(again.body.id, m1.id);
    assert.equal(again.body.seqs[bob], 4);
  });

  it('an entry expiring inside the retained history leaves a hole: polls skip it, a stream crossing it emits reset', async () => {
    const dave = uid('dave');
    await app.publish({ to: [dave], payload: { n: 1 }, ttlSeconds: 3600 });
    const short = await app.publish({ to: [dave], payload: { n: 2 }, ttlSeconds: 1 });
    await app.publish({ to: [dave], payload: { n: 3 }, ttlSeconds: 3600 });
    await expired([short.id]);
    await waitFor(async () => (await entries(dave)).join() === '1,3', { timeoutMs: 20_000, what: 'cleanup' });
    const [ib] = await sql<{ floor_seq: number }>('SELECT floor_seq FROM inboxes WHERE tenant_id = $1 AND user_id = $2', [app.tenant.id, dave]);
    assert.equal(Number(ib!.floor_seq), 0, 'seq 1 is still retained, so the floor stays');

    const token = await app.token(dave);
    const p = await app.http.get('/v1/poll?since=1&timeout=0&ack=false').set('Authorization', `Bearer ${token}`);
    assert.deepEqual(p.body.messages.map((m: { seq: number }) => m.seq), [3]);
    const s = await openSse(app.url, '/v1/stream?since=1', { authorization: `Bearer ${token}` });
    try {
      await s.waitFor((c) => c.messages().length === 1);
      const kinds = s.events.filter((e) => e.event !== 'ready').map((e) => e.event);
      assert.deepEqual(kinds, ['reset', 'message']);
    } finally {
      s.close();
    }
  });

  it('every run is recorded and visible in /v1/admin/stats', async () => {
    await waitFor(async () => (await sql(`SELECT 1 FROM job_runs WHERE job = 'ttl-cleanup'`)).length > 0, { what: 'a recorded run' });
    const r = await app.http.get('/v1/admin/stats').set('Authorization', `Bearer ${app.tenant.adminKey}`);
    assert.equal(r.status, 200);
    const ttl = r.body.jobs.find((j: { job: string }) => j.job === 'ttl-cleanup');
    assert.ok(ttl && ttl.runs > 0 && ttl.failures === 0, JSON.stringify(r.body.jobs));
    const run = r.body.recentRuns.find((x: { job: string }) => x.job === 'ttl-cleanup');
    assert.ok(run && typeof run.detail.slot === 'string' && 'batches' in run.detail, JSON.stringify(run));
  });
});
