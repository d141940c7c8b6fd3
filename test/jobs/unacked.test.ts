// Unacknowledged delivery: re-offered with backoff, dead-lettered after the last attempt, then
// retried or discarded through the admin API. Real pg-boss runs the scan every second (config).
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { openSse, type SseClient } from '../helpers/sse.ts';
import { sql } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

const ENV = {
  COMPENSATION_CRON: '* * * * * *',
  ACK_DEADLINE_S: '1',
  ACK_RETRY_BASE_S: '1',
  ACK_RETRY_FACTOR: '2',
  ACK_MAX_ATTEMPTS: '2',
};

interface Letter { id: string; user: string; device: string; fromSeq: number; toSeq: number; attempts: number; reason: string; createdAt: string; state: string }

describe('compensation scan: unacknowledged delivery', function () {
  this.timeout(90_000);
  let app: TestApp;
  const clients: SseClient[] = [];

  before(async () => { app = await startApp(ENV); });
  after(async () => {
    for (const c of clients) c.close();
    await app.close();
  });

  const admin = () => `Bearer ${app.tenant.adminKey}`;
  const letters = async (user: string, state = 'open'): Promise<Letter[]> => {
    const r = await app.http.get(`/v1/admin/dead-letters?state=${state}`).set('Authorization', admin());
    assert.equal(r.status, 200, r.text);
    return (r.body.deadLetters as Letter[]).filter((l) => l.user === user);
  };
  const device = async (user: string, dev: string) => (await sql<{
    acked_seq: number; delivered_seq: number; offer_attempts: number; offline: boolean; backoff_s: number | null;
  }>(`SELECT acked_seq, delivered_seq, offer_attempts, offline_since IS NOT NULL AS offline,
             extract(epoch FROM next_offer_at - last_offer_at)::float8 AS backoff_s
      FROM devices WHERE tenant_id = $1 AND user_id = $2 AND device_id = $3`, [app.tenant.id, user, dev]))[0]!;
  const copies = (c: SseClient, seq: number) => c.messages().filter((m) => m.seq === seq).length;

  it('a stream that never acks is re-offered with backoff, then dead-lettered; retry re-delivers; discard acks it away', async () => {
    const user = uid('bob');
    const token = await app.token(user, { device: 'phone' });
    const c = await openSse(app.url, '/v1/stream', { authorization: `Bearer ${token}` });
    clients.push(c);
    await app.publish({ to: [user], payload: { n: 1 } });
    await app.publish({ to: [user], payload: { n: 2 } });
    await c.waitFor(() => copies(c, 2) >= 1);

    // First re-offer: the stream rewinds to the cursor (0) and sends 1 and 2 again.
    await c.waitFor(() => copies(c, 1) >= 2 && copies(c, 2) >= 2, 20_000);
    let d = await device(user, 'phone');
    assert.ok(d.offer_attempts >= 1);
    // The wait after attempt k is base * factor^(k-1): 1 s, then 2 s.
    assert.equal(d.backoff_s, 1 * 2 ** (d.offer_attempts - 1));

    const [letter] = await waitFor(async () => { const l = await letters(user); return l.length ? l : null; }, { timeoutMs: 30_000, what: 'a dead letter' });
    assert.deepEqual({ ...letter!, id: undefined, createdAt: undefined },
      { id: undefined, createdAt: undefined, user, device: 'phone', fromSeq: 1, toSeq: 2, attempts: 2, reason: 'ack_timeout', state: 'open', resolvedAt: null });
    assert.ok(!Number.isNaN(Date.parse(letter!.createdAt)));
    d = await device(user, 'phone');
    assert.equal(d.offline, true, 'the device is marked offline');
    assert.equal(d.offer_attempts, 2);
    assert.equal(d.backoff_s, 2, 'the last wait was base * factor');
    // Original + exactly ACK_MAX_ATTEMPTS re-offers, and no more once offline.
    assert.equal(copies(c, 1), 3);
    const stats = await app.http.get('/v1/admin/stats').set('Authorization', admin());
    assert.equal(stats.status, 200);
    assert.ok(stats.body.deadLetters.open >= 1);
    assert.ok(stats.body.jobs.some((j: { job: string; runs: number }) => j.job === 'compensation-scan' && j.runs > 0));

    // Retry: re-armed and re-offered at once.
    const retried = await app.http.post(`/v1/admin/dead-letters/${letter!.id}/retry`).set('Authorization', admin());
    assert.equal(retried.status, 200, retried.text);
    assert.equal(retried.body.deadLetter.state, 'retried');
    await c.waitFor(() => copies(c, 1) >= 4 && copies(c, 2) >= 4);
    assert.equal((await device(user, 'phone')).offline, false);
    assert.deepEqual(await letters(user), []);
    // Repeating a retry is harmless.
    assert.equal((await app.http.post(`/v1/admin/dead-letters/${letter!.id}/retry`).set('Authorization', admin())).status, 200);

    // Still no ack: it dead-letters again; discard acknowledges the range away.
    const [second] = await waitFor(async () => { const l = await letters(user); return l.length ? l : null; }, { timeoutMs: 30_000, what: 'a second dead letter' });
    assert.notEqual(second!.id, letter!.id);
    const discarded = await app.http.post(`/v1/admin/dead-letters/${second!.id}/discard`).set('Authorization', admin());
    assert.equal(discarded.status, 200, discarded.text);
    assert.equal(discarded.body.deadLetter.state, 'discarded');
    d = await device(user, 'phone');
    assert.equal(d.acked_seq, 2);
    assert.equal(d.offline, false);
    const poll = await app.http.get('/v1/poll?timeout=0').set('Authorization', `Bearer ${token}`);
    assert.deepEqual([poll.status, poll.body.messages, poll.body.next], [200, [], 2]);
    // A retry of a discarded letter is refused; the list by state shows the history.
    const refused = await app.http.post(`/v1/admin/dead-letters/${second!.id}/retry`).set('Authorization', admin());
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_request');
    assert.deepEqual((await letters(user, 'all')).map((l) => l.state).sort(), ['discarded', 'retried']);
    // Nothing is outstanding now: no further re-offer arrives.
    const seen = c.messages().length;
    const since = new Date();
    await waitFor(async () => (await sql(`SELECT 1 FROM job_runs WHERE job = 'compensation-scan' AND error IS NULL AND started_at > $1`, [since])).length >= 3,
      { timeoutMs: 20_000, what: 'three more scans' });
    assert.equal(c.messages().length, seen);
  });

  it('a stream client that acknowledges what it gets is never re-offered', async () => {
    const user = uid('erin');
    const token = await app.token(user, { device: 'tab' });
    const c = await openSse(app.url, '/v1/stream', { authorization: `Bearer ${token}` });
    clients.push(c);
    for (let n = 1; n <= 3; n++) {
      await app.publish({ to: [user], payload: { n } });
      await c.waitFor(() => copies(c, n) === 1);
      const r = await app.http.post('/v1/ack').set('Authorization', `Bearer ${token}`).send({ seq: n });
      assert.equal(r.status, 200);
    }
    // Several scans well past the deadline (1 s) change nothing for it.
    const since = new Date(Date.now() + 2000);
    await waitFor(async () => (await sql(`SELECT 1 FROM job_runs WHERE job = 'compensation-scan' AND error IS NULL AND started_at > $1`, [since])).length >= 2,
      { timeoutMs: 20_000, what: 'scans past the deadline' });
    assert.deepEqual(c.messages().map((m) => m.seq), [1, 2, 3]);
    assert.deepEqual(await letters(user, 'all'), []);
    const d = await device(user, 'tab');
    assert.deepEqual([d.acked_seq, d.delivered_seq, d.offer_attempts, d.offline], [3, 3, 0, false]);
  });

  it('a long poll that never acks gets the entries again on its next poll; its dead letter closes when it acks', async () => {
    const user = uid('carl');
    const token = await app.token(user, { device: 'cron' });
    const auth = `Bearer ${token}`;
    await app.publish({ to: [user], payload: { n: 1 } });
    const first = await app.http.get('/v1/poll?timeout=0').set('Authorization', auth);
    assert.deepEqual(first.body.messages.map((m: { seq: number }) => m.seq), [1]);
    await waitFor(async () => (await letters(user)).length === 1, { timeoutMs: 30_000, what: 'a dead letter' });
    assert.equal((await device(user, 'cron')).offline, true);
    // Its cursor never moved: the next poll without since offers seq 1 again.
    const again = await app.http.get('/v1/poll?timeout=0').set('Authorization', auth);
    assert.deepEqual(again.body.messages.map((m: { seq: number }) => m.seq), [1]);
    // since=1 acknowledges; the scan closes the letter and brings the device back.
    await app.http.get('/v1/poll?since=1&timeout=0').set('Authorization', auth).then((r) => assert.equal(r.status, 200));
    await waitFor(async () => (await letters(user, 'acked')).length === 1, { timeoutMs: 20_000, what: 'the letter to close' });
    assert.equal((await device(user, 'cron')).offline, false);
  });

  it('dead-letter endpoints need an admin key of the same tenant', async () => {
    const [row] = await sql<{ id: string }>(`INSERT INTO dead_letters (tenant_id, user_id, device_id, from_seq, to_seq, attempts, reason)
      VALUES ($1, 'x', 'default', 1, 1, 1, 'ack_timeout') RETURNING id::text`, [app.tenant.id]);
    const other = await app.newTenant();
    const cases: [string, string, string | null, number][] = [
      ['get', '/v1/admin/dead-letters', null, 401],
      ['get', '/v1/admin/dead-letters', `Bearer ${app.tenant.publishKey}`, 403],
      ['get', '/v1/admin/stats', `Bearer ${await app.token('x')}`, 403],
      ['post', `/v1/admin/dead-letters/${row!.id}/retry`, `Bearer ${other.adminKey}`, 404],
      ['post', `/v1/admin/dead-letters/${row!.id}/discard`, `Bearer ${other.adminKey}`, 404],
      ['post', '/v1/admin/dead-letters/99999999999/retry', admin(), 404],
      ['post', '/v1/admin/dead-letters/abc/retry', admin(), 400],
      ['get', '/v1/admin/dead-letters?state=lost', admin(), 400],
    ];
    for (const [method, path, auth, status] of cases) {
      let req = method === 'get' ? app.http.get(path) : app.http.post(path);
      if (auth) req = req.set('Authorization', auth);
      const r = await req;
      assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
      assert.ok(r.body.error && r.body.requestId, 'error body in the contract shape');
    }
    const list = await app.http.get('/v1/admin/dead-letters').set('Authorization', `Bearer ${other.adminKey}`);
    assert.deepEqual(list.body, { deadLetters: [] });
  });
});
