import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { openSse, type SseClient } from '../helpers/sse.ts';
import { sql } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

describe('Server-Sent Events', () => {
  let app: TestApp;
  const open: SseClient[] = [];
  before(async () => { app = await startApp({ STREAM_HEARTBEAT_S: '1' }); });
  after(async () => { await app.close(); });
  afterEach(() => { for (const c of open.splice(0)) c.close(); });

  const stream = async (token: string, path = '/v1/stream', headers: Record<string, string> = {}) => {
    const c = await openSse(app.url, path, { authorization: `Bearer ${token}`, ...headers });
    open.push(c);
    return c;
  };
  const seqs = (c: SseClient) => c.messages().map((m) => m.seq);

  it('replays, then delivers live, with the proxy-friendly headers and a ready event first', async () => {
    const u = uid();
    await app.publish({ to: [u], payload: { n: 1 } });
    const t = await app.token(u);
    const c = await stream(t, '/v1/stream?since=0');
    assert.equal(c.status, 200);
    assert.match(String(c.headers['content-type']), /^text\/event-stream/);
    assert.equal(c.headers['cache-control'], 'no-cache, no-transform');
    assert.equal(c.headers['x-accel-buffering'], 'no');
    await c.waitFor(() => seqs(c).length === 1);
    assert.equal(c.events[0]!.event, 'ready');
    assert.deepEqual(JSON.parse(c.events[0]!.data), { since: 0, head: 1 });
    assert.match(c.raw, /^retry: 3000\n\n/);
    await app.publish({ to: [u], payload: { n: 2 } });
    await c.waitFor(() => seqs(c).length === 2);
    const ev = c.events.filter((e) => e.event === 'message');
    assert.deepEqual(ev.map((e) => e.id), ['1', '2']);
    assert.deepEqual(c.messages().map((m) => m.payload.n), [1, 2]);
  });

  it('a message published here reaches a live stream and a held poll without an inbox read, byte for byte as a read returns it', async () => {
    const u = uid();
    const t = await app.token(u, { device: 's' });
    const p = await app.token(u, { device: 'p' });
    const c = await stream(t, '/v1/stream?since=0');
    await c.waitFor(() => c.events.some((e) => e.event === 'ready'));
    const held = app.http.get('/v1/poll?since=0&timeout=20').set('Authorization', `Bearer ${p}`).then((r) => r);
    await waitFor(() => app.service.deps.registry.polls === 1, { what: 'poll held' });
    const reads = app.service.deps.reader.queries;
    // Spacing, key order and number forms that jsonb normalises: the live copy must show them as stored.
    const r = await app.http.post('/v1/messages').set('Authorization', `Bearer ${app.tenant.adminKey}`).set('Content-Type', 'application/json')
      .send('{"to":["' + u + '"],"type":"t.x","payload":{"zz":1,"a":[1.50,2e2,{"b":"\\u00e9 \\n"}],"m":null}}').expect(201);
    await c.waitFor(() => seqs(c).length === 1);
    const polled = await held;
    assert.equal(app.service.deps.reader.queries, reads, 'neither the stream nor the poll read the inbox');
    const live = c.events.find((e) => e.event === 'message')!.data;
    const readBack = await app.http.get('/v1/poll?since=0&timeout=0&ack=false').set('Authorization', `Bearer ${p}`).expect(200);
    assert.ok(app.service.deps.reader.queries > reads, 'this poll did read');
    const stored = JSON.stringify(readBack.body.messages[0]);
    assert.equal(JSON.stringify(JSON.parse(live)), stored);
    assert.equal(JSON.stringify(polled.body.messages[0]), stored);
    // Byte for byte: the live text is what a read sends (seq first, then the body PostgreSQL built).
    assert.ok(readBack.text.includes(live), `${live} not in ${readBack.text}`);
    assert.equal(JSON.parse(live).id, r.body.id);
  });

  it('a message stored before bodies were stored (migration 007) reads exactly as one stored after', async () => {
    const u = uid();
    const t = await app.token(u);
    const r = await app.publish({ to: [u], type: 'old.kind', payload: { zz: 1, a: [1.5, { b: 'é' }], m: null } });
    const page = (a: TestApp) => a.http.get('/v1/poll?since=0&timeout=0&ack=false').set('Authorization', `Bearer ${t}`).expect(200).then((x) => x.text);
    const stored = await page(app);
    const [row] = await sql<{ body: string | null }>('SELECT body FROM messages WHERE tenant_id = $1 AND id = $2', [app.tenant.id, r.id]);
    assert.ok(row?.body, 'the publish stored the body');
    await sql('UPDATE messages SET body = NULL WHERE tenant_id = $1 AND id = $2', [app.tenant.id, r.id]);
    // This process has the body cached; others read the database: without a body cache (entries
    // and bodies joined) and with a cold one (bodies by id).
    for (const BODY_CACHE_MB of ['0', '64']) {
      const other = await startApp({ BODY_CACHE_MB });
      try {
        assert.equal(await page(other), stored, `BODY_CACHE_MB=${BODY_CACHE_MB}`);
        // A stream reads the same bytes as the poll.
        const c = await openSse(other.url, '/v1/stream?since=0', { authorization: `Bearer ${t}` });
        open.push(c);
        await c.waitFor(() => seqs(c).length === 1);
        assert.ok(stored.includes(c.events.find((e) => e.event === 'message')!.data));
        c.close();
      } finally {
        await other.close();
      }
    }
  });

  it('a user called "__proto__" gets its seq in the publish answer and its message handed over live', async () => {
    const u = '__proto__';
    const c = await stream(await app.token(u), '/v1/stream');
    await c.waitFor(() => c.events.some((e) => e.event === 'ready'));
    const head = JSON.parse(c.events.find((e) => e.event === 'ready')!.data).head as number;
    const reads = app.service.deps.reader.queries;
    const r = await app.http.post('/v1/messages').set('Authorization', `Bearer ${app.tenant.adminKey}`)
      .send({ to: [u, 'someone'], payload: { p: 1 } }).expect(201);
    assert.ok(Object.hasOwn(r.body.seqs, '__proto__'), JSON.stringify(r.body));
    assert.equal(r.body.seqs.__proto__, head + 1);
    await c.waitFor(() => seqs(c).includes(head + 1));
    assert.equal(app.service.deps.reader.queries, reads, 'handed over, not found later by the safety tick');
  });

  it('resumes with Last-Event-ID after a dropped connection: nothing lost, nothing twice', async () => {
    const u = uid();
    const t = await app.token(u);
    const a = await stream(t, '/v1/stream?since=0');
    for (let i = 1; i <= 3; i++) await app.publish({ to: [u], payload: { i } });
    await a.waitFor(() => seqs(a).length === 3);
    a.close();
    // Published while disconnected.
    for (let i = 4; i <= 6; i++) await app.publish({ to: [u], payload: { i } });
    const lastId = a.events.filter((e) => e.event === 'message').at(-1)!.id!;
    // Last-Event-ID wins over since.
    const b = await stream(t, '/v1/stream?since=0', { 'last-event-id': lastId });
    await b.waitFor(() => seqs(b).length === 3);
    await app.publish({ to: [u], payload: { i: 7 } });
    await b.waitFor(() => seqs(b).length === 4);
    assert.deepEqual([...seqs(a), ...seqs(b)], [1, 2, 3, 4, 5, 6, 7]);
  });

  it('sends heartbeats', async () => {
    const t = await app.token(uid());
    const c = await stream(t);
    await c.waitFor(() => c.comments.includes('keepalive'), 5000);
  });

  it('without a cursor starts from the device cursor, which only acks move', async () => {
    const u = uid();
    for (let i = 0; i < 3; i++) await app.publish({ to: [u], payload: { i } });
    const t = await app.token(u, { device: 'tab' });
    const a = await stream(t);
    await a.waitFor(() => seqs(a).length === 3);
    a.close();
    // Not acknowledged: a new connection gets them again (at least once).
    const b = await stream(t);
    await b.waitFor(() => seqs(b).length === 3);
    b.close();
    await app.http.post('/v1/ack').set('Authorization', `Bearer ${t}`).send({ seq: 2 }).expect(200);
    const c = await stream(t);
    await c.waitFor(() => seqs(c).length === 1);
    assert.deepEqual(seqs(c), [3]);
  });

  it('a cursor behind retention gets a reset event and continues from the oldest', async () => {
    const u = uid();
    for (let i = 0; i < 4; i++) await app.publish({ to: [u], payload: { i } });
    await sql('UPDATE inboxes SET floor_seq = 2 WHERE tenant_id = $1 AND user_id = $2', [app.tenant.id, u]);
    await sql('DELETE FROM inbox_entries WHERE tenant_id = $1 AND user_id = $2 AND seq <= 2', [app.tenant.id, u]);
    const t = await app.token(u);
    const c = await stream(t, '/v1/stream?since=1');
    await c.waitFor(() => seqs(c).length === 2);
    const reset = c.events.find((e) => e.event === 'reset');
    assert.ok(reset, 'reset event sent');
    assert.deepEqual(JSON.parse(reset.data), { oldest: 3 });
    assert.deepEqual(seqs(c), [3, 4]);
  });

  it('padding=1 sends a 2 KiB comment prelude', async () => {
    const t = await app.token(uid());
    const c = await stream(t, '/v1/stream?padding=1');
    await c.waitFor(() => c.events.length >= 1);
    assert.ok(c.raw.indexOf('retry:') >= 2048, 'prelude before retry');
  });

  it('a bad Last-Event-ID or a cursor ahead of the head is a 400', async () => {
    const t = await app.token(uid());
    const a = await stream(t, '/v1/stream', { 'last-event-id': 'abc' });
    assert.equal(a.status, 400);
    const b = await stream(t, '/v1/stream?since=5');
    assert.equal(b.status, 400);
  });
});

describe('SSE stream lifetime', () => {
  let app: TestApp;
  before(async () => { app = await startApp({ STREAM_MAX_LIFETIME_S: '1' }); });
  after(async () => { await app.close(); });

  it('closes a stream after its maximum lifetime; the client resumes without loss', async () => {
    const u = uid();
    const t = await app.token(u);
    await app.publish({ to: [u], payload: { i: 1 } });
    const c = await openSse(app.url, '/v1/stream?since=0', { authorization: `Bearer ${t}` });
    await c.waitFor(() => c.closed, 5000);
    assert.equal(c.messages().length, 1);
    assert.equal(app.service.deps.registry.streamCount, 0);
  });
});
