import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import net from 'node:net';
import { sql } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

describe('long polling', () => {
  let app: TestApp;
  before(async () => { app = await startApp(); });
  after(async () => { await app.close(); });
  afterEach(() => { assert.equal(app.service.deps.registry.polls, 0, 'a poll was left registered'); });

  // supertest sends on then(): start the request now so that it is really held while we act.
  const poll = (token: string, qs: string) => app.http.get(`/v1/poll?${qs}`).set('Authorization', `Bearer ${token}`).then((r) => r);

  it('answers at once with what is there, in order, with next/more/read', async () => {
    const u = uid();
    for (let i = 1; i <= 5; i++) await app.publish({ to: [u], payload: { i } });
    const t = await app.token(u);
    const r = await poll(t, 'since=0&limit=3');
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.deepEqual(r.body.messages.map((m: { seq: number }) => m.seq), [1, 2, 3]);
    assert.deepEqual(r.body.messages.map((m: { payload: { i: number } }) => m.payload.i), [1, 2, 3]);
    assert.equal(r.body.next, 3);
    assert.equal(r.body.more, true);
    assert.equal(r.body.read, 0);
    const m = r.body.messages[0];
    assert.equal(m.from, 'system');
    assert.equal(m.type, 'message');
    assert.ok(!Number.isNaN(Date.parse(m.createdAt)));
    const r2 = await poll(t, 'since=3&limit=3');
    assert.deepEqual(r2.body.messages.map((x: { seq: number }) => x.seq), [4, 5]);
    assert.equal(r2.body.more, false);
  });

  it('paging: the next page is read while the client takes this one; a message published meanwhile and a rewind come out right', async () => {
    const { reader, pagesAhead } = app.service.deps;
    const u = uid();
    for (let i = 1; i <= 5; i++) await app.publish({ to: [u], payload: { i } });
    const t = await app.token(u);
    const seqs = (r: { body: { messages: { seq: number }[] } }) => r.body.messages.map((m) => m.seq);
    const first = await poll(t, 'since=0&limit=3&timeout=0');
    assert.deepEqual(seqs(first), [1, 2, 3]);
    assert.equal(first.body.more, true);
    await new Promise((r) => setTimeout(r, 50));
    const reads = reader.queries;
    await app.publish({ to: [u], payload: { i: 6 } });
    const second = await poll(t, 'since=3&limit=3&timeout=0');
    // Read before seq 6 was committed: the page ends at 5 and no read was needed for it.
    assert.deepEqual(seqs(second), [4, 5]);
    assert.equal(reader.queries, reads, 'the page read ahead was used');
    assert.equal(pagesAhead.size, 0);
    assert.deepEqual(seqs(await poll(t, 'since=5&limit=3&timeout=0')), [6]);
    // Another cursor or limit than the one read ahead reads afresh.
    assert.deepEqual(seqs(await poll(t, 'since=0&limit=2&timeout=0')), [1, 2]);
    assert.deepEqual(seqs(await poll(t, 'since=0&limit=4&timeout=0')), [1, 2, 3, 4]);
    assert.deepEqual(seqs(await poll(t, 'since=1&limit=4&timeout=0')), [2, 3, 4, 5]);
  });

  it('holds the request until a message arrives, then answers promptly', async () => {
    const u = uid();
    const t = await app.token(u);
    const pending = poll(t, 'since=0&timeout=20');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(app.service.deps.registry.polls, 1);
    const t0 = Date.now();
    await app.publish({ to: [u], payload: { x: 1 } });
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(r.body.messages.length, 1);
    assert.ok(Date.now() - t0 < 3000, 'woken by NOTIFY, not by the timeout');
  });

  it('times out with an empty 200 and next = since', async () => {
    const u = uid();
    await app.publish({ to: [u], payload: {} });
    const t = await app.token(u);
    const r = await poll(t, 'since=1&timeout=1');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.messages, []);
    assert.equal(r.body.next, 1);
    assert.equal(r.body.more, false);
  });

  it('timeout=0 answers at once', async () => {
    const t = await app.token(uid());
    const t0 = Date.now();
    const r = await poll(t, 'since=0&timeout=0');
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 < 2000);
  });

  it('a newer poll of the same device supersedes the older; another device is unaffected', async () => {
    const u = uid();
    const t = await app.token(u);
    const other = await app.token(u, { device: 'phone' });
    const first = poll(t, 'since=0&timeout=20');
    const otherPoll = poll(other, 'since=0&timeout=20');
    await new Promise((r) => setTimeout(r, 300));
    const second = poll(t, 'since=0&timeout=20');
    const r1 = await first;
    assert.equal(r1.status, 200);
    assert.equal(r1.body.superseded, true);
    assert.deepEqual(r1.body.messages, []);
    assert.equal(r1.body.next, 0);
    await app.publish({ to: [u], payload: { n: 1 } });
    const [r2, r3] = await Promise.all([second, otherPoll]);
    assert.equal(r2.body.messages.length, 1);
    assert.equal(r2.body.superseded, undefined);
    assert.equal(r3.body.messages.length, 1);
  });

  it('cursor: since acknowledges (unless ack=false); without since the device cursor is used', async () => {
    const u = uid();
    for (let i = 0; i < 4; i++) await app.publish({ to: [u], payload: { i } });
    const t = await app.token(u);
    // A new device starts at the oldest retained entry.
    let r = await poll(t, 'timeout=0');
    assert.deepEqual(r.body.messages.map((m: { seq: number }) => m.seq), [1, 2, 3, 4]);
    // Not acknowledged yet: the same again.
    r = await poll(t, 'timeout=0');
    assert.equal(r.body.messages.length, 4);
    r = await poll(t, 'since=2&ack=false&timeout=0');
    assert.deepEqual(r.body.messages.map((m: { seq: number }) => m.seq), [3, 4]);
    r = await poll(t, 'timeout=0');
    assert.equal(r.body.messages.length, 4, 'ack=false did not move the cursor');
    r = await poll(t, 'since=3&timeout=0');
    assert.deepEqual(r.body.messages.map((m: { seq: number }) => m.seq), [4]);
    r = await poll(t, 'timeout=0');
    assert.deepEqual(r.body.messages.map((m: { seq: number }) => m.seq), [4], 'since=3 acknowledged 3');
    // The cursor never moves back.
    await poll(t, 'since=1&timeout=0');
    r = await poll(t, 'timeout=0');
    assert.deepEqual(r.body.messages.map((m: { seq: number }) => m.seq), [4]);
    const ack = await app.http.post('/v1/ack').set('Authorization', `Bearer ${t}`).send({ seq: 4 });
    assert.equal(ack.status, 200);
    assert.equal(ack.body.acked, 4);
    const ahead = await app.http.post('/v1/ack').set('Authorization', `Bearer ${t}`).send({ seq: 5 });
    assert.equal(ahead.status, 400);
  });

  it('since beyond the head is 400 cursor_ahead; behind retention is 410 cursor_expired with oldest', async () => {
    const u = uid();
    for (let i = 0; i < 3; i++) await app.publish({ to: [u], payload: { i } });
    const t = await app.token(u);
    const ahead = await poll(t, 'since=4');
    assert.equal(ahead.status, 400);
    assert.equal(ahead.body.error, 'cursor_ahead');
    // Retention moved past seq 2 (what the TTL job does), entries gone with it.
    await sql('UPDATE inboxes SET floor_seq = 2 WHERE tenant_id = $1 AND user_id = $2', [app.tenant.id, u]);
    await sql('DELETE FROM inbox_entries WHERE tenant_id = $1 AND user_id = $2 AND seq <= 2', [app.tenant.id, u]);
    const gone = await poll(t, 'since=1');
    assert.equal(gone.status, 410);
    assert.equal(gone.body.error, 'cursor_expired');
    assert.equal(gone.body.oldest, 3);
    const resume = await poll(t, `since=${gone.body.oldest - 1}&timeout=0`);
    assert.deepEqual(resume.body.messages.map((m: { seq: number }) => m.seq), [3]);
  });

  it('a client closing its held poll leaves nothing registered', async () => {
    const t = await app.token(uid());
    const req = app.http.get('/v1/poll?since=0&timeout=20').set('Authorization', `Bearer ${t}`);
    const p = req.then(() => undefined, () => undefined);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(app.service.deps.registry.polls, 1);
    req.abort();
    await p;
    const end = Date.now() + 3000;
    while (app.service.deps.registry.polls > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  });

  it('clients that leave while their poll or stream is starting leave nothing held', async () => {
    const { registry, slots } = app.service.deps;
    const u = uid();
    const t = await app.token(u);
    const { hostname, port } = new URL(app.url);
    // Each request is sent and the socket dropped at once: the close lands while the start
    // statement runs (or before, or after; every order must end with nothing held).
    await Promise.all(Array.from({ length: 30 }, (_, i) => new Promise<void>((resolve) => {
      const path = i % 2 ? '/v1/stream' : '/v1/poll?timeout=60';
      const s = net.connect(Number(port), hostname, () => {
        s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`);
        setTimeout(() => { s.destroy(); resolve(); }, i % 5);
      });
      s.on('error', () => undefined);
    })));
    await waitFor(() => registry.polls === 0 && registry.streamCount === 0 && slots.held === 0, { what: 'nothing held' });
  });

  it('timeout above the maximum is clamped, not refused', async () => {
    const t = await app.token(uid());
    const r = await app.http.get('/v1/poll?timeout=999999&since=0').set('Authorization', `Bearer ${t}`).timeout(500).catch((e) => e);
    // Clamped to the 60 s maximum: still held after 500 ms, i.e. accepted.
    assert.equal(r.timeout, 500);
    await new Promise((res) => setTimeout(res, 100));
    const again = await poll(t, 'timeout=0&since=0'); // supersedes the abandoned one, if still there
    assert.equal(again.status, 200);
  });
});
