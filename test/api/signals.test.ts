// Signals (QoS 0): delivered at most once to connections open at that moment, on this process and
// on others; never stored, no seq, not in history, never replayed.
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { spawnServer, type ServerProcess } from '../helpers/spawn.ts';
import { openSse, type SseClient } from '../helpers/sse.ts';
import { testDb } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

const bearer = (t: string) => `Bearer ${t}`;
const signalsOf = (c: SseClient) => c.events.filter((e) => e.event === 'signal').map((e) => ({ id: e.id, ...JSON.parse(e.data) }));

async function stream(url: string, token: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const c = await openSse(url, '/v1/stream', { authorization: bearer(token), ...headers });
  await c.waitFor((x) => x.events.some((e) => e.event === 'ready'));
  return c;
}

async function post(url: string, path: string, auth: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() as Record<string, unknown> };
}

describe('signals on one process', () => {
  let app: TestApp;
  const open: SseClient[] = [];
  before(async () => { app = await startApp({ SAFETY_TICK_S: '59' }); });
  after(async () => { await app.close(); });
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await waitFor(() => app.service.deps.registry.streamCount === 0 && app.service.deps.registry.polls === 0, { what: 'connections closed' });
  });

  it('reaches an open stream (id-less `signal` event) and a held poll (answers with "signals", next unchanged)', async () => {
    const u = uid();
    await app.publish({ to: [u], payload: { n: 1 } });
    const s = await stream(app.url, await app.token(u, { device: 'tab' }));
    open.push(s);
    const pollToken = await app.token(u, { device: 'phone' });
    const held = app.http.get('/v1/poll?since=1&timeout=30').set('Authorization', bearer(pollToken)).then((r) => r);
    await waitFor(() => app.service.deps.registry.polls === 1, { what: 'poll held' });

    const r = await app.http.post('/v1/signals').set('Authorization', bearer(app.tenant.adminKey)).send({ to: [u], type: 'typing', payload: { on: true } });
    assert.equal(r.status, 202);
    assert.deepEqual(r.body, { recipients: 1, delivered: 2, here: 2 }, 'the only process: its count is the whole count');

    await s.waitFor((c) => signalsOf(c).length === 1);
    const ev = s.events.find((e) => e.event === 'signal')!;
    assert.equal(ev.id, undefined, 'no id: Last-Event-ID never moves for a signal');
    const sig = JSON.parse(ev.data);
    assert.deepEqual({ ...sig, at: undefined }, { type: 'typing', from: 'system', group: null, payload: { on: true }, at: undefined });
    assert.ok(!Number.isNaN(Date.parse(sig.at)));

    const p = await held;
    assert.equal(p.status, 200);
    assert.deepEqual(p.body.messages, []);
    assert.equal(p.body.next, 1, 'next unchanged');
    assert.equal(p.body.signals.length, 1);
    assert.equal(p.body.signals[0].type, 'typing');
  });

  it('is not stored: no seq taken, not in history, not replayed to a stream resuming with Last-Event-ID', async () => {
    const u = uid();
    const t = await app.token(u, { device: 'tab' });
    assert.equal((await app.publish({ to: [u], payload: { n: 1 } })).seqs[u], 1);
    const s = await stream(app.url, t);
    open.push(s);
    await s.waitFor((c) => c.messages().length === 1);
    for (let i = 0; i < 3; i++) {
      const r = await app.http.post('/v1/signals').set('Authorization', bearer(app.tenant.adminKey)).send({ to: [u], type: 'cursor', payload: { i } });
      assert.equal(r.status, 202);
    }
    await s.waitFor((c) => signalsOf(c).length === 3);
    assert.equal((await app.publish({ to: [u], payload: { n: 2 } })).seqs[u], 2, 'the next message takes seq 2: signals took none');
    await s.waitFor((c) => c.messages().length === 2);

    const h = await app.http.get('/v1/messages').set('Authorization', bearer(t));
    assert.deepEqual(h.body.messages.map((m: { seq: number }) => m.seq), [2, 1], 'history holds the messages only');
    assert.ok(!JSON.stringify(h.body).includes('cursor'));

    const again = await stream(app.url, t, { 'last-event-id': '0' });
    open.push(again);
    await again.waitFor((c) => c.messages().length === 2);
    // A marker signal sent now arrives after anything the resumed stream would replay.
    await app.http.post('/v1/signals').set('Authorization', bearer(app.tenant.adminKey)).send({ to: [u], type: 'marker', payload: {} });
    await again.waitFor((c) => signalsOf(c).some((x) => x.type === 'marker'));
    assert.deepEqual(signalsOf(again).map((x) => x.type), ['marker'], 'earlier signals are not replayed');
    const poll = await app.http.get('/v1/poll?since=0&timeout=0').set('Authorization', bearer(t));
    assert.deepEqual(poll.body.messages.map((m: { seq: number }) => m.seq), [1, 2]);
    assert.equal(poll.body.signals, undefined);
  });

  it('rights and limits: publish scope, shared groups only for client tokens, 4 KiB payload, group targets', async () => {
    const [alice, bob, carol] = [uid('a'), uid('b'), uid('c')];
    const room = uid('g');
    await app.http.put(`/v1/groups/${room}`).set('Authorization', bearer(app.tenant.adminKey)).send({ members: [alice, bob] }).expect(201);
    const aliceSub = await app.token(alice);
    const alicePub = await app.token(alice, { publish: true });
    const send = (auth: string, body: unknown) => app.http.post('/v1/signals').set('Authorization', auth).send(body as object);

    let r = await send(bearer(aliceSub), { to: [bob], type: 'typing', payload: {} });
    assert.equal(r.status, 403);
    assert.match(r.body.message, /scope/);
    assert.equal((await send(bearer(alicePub), { to: [bob], type: 'typing', payload: {} })).status, 202, 'bob shares a group');
    assert.equal((await send(bearer(alicePub), { to: [alice], payload: {} })).status, 202, 'her own other devices');
    r = await send(bearer(alicePub), { to: [bob, carol], payload: {} });
    assert.equal(r.status, 403, 'carol shares no group with alice');
    assert.match(r.body.message, new RegExp(carol));
    assert.equal((await send(bearer(alicePub), { to: [bob], from: carol, payload: {} })).status, 403);
    assert.equal((await send(bearer(app.tenant.publishKey), { to: [carol], from: alice, payload: {} })).status, 202, 'an API key may signal anyone');

    r = await send(bearer(alicePub), { to: [bob], payload: { text: 'x'.repeat(4096) } });
    assert.equal(r.status, 413);
    assert.equal(r.body.error, 'payload_too_large');
    assert.equal((await send(bearer(alicePub), { to: [bob], payload: { t: 'x'.repeat(4000) } })).status, 202);
    assert.equal((await send(bearer(alicePub), { to: [bob], group: room, payload: {} })).status, 400);
    assert.equal((await send(bearer(alicePub), { payload: {} })).status, 400);
    assert.equal((await send(bearer(alicePub), { to: [bob], payload: 'x' })).status, 400);
    assert.equal((await send(bearer(alicePub), { to: [bob], payload: {}, dedupId: 'x' })).status, 400, 'signals have no dedupId');
    assert.equal((await send(bearer(app.tenant.adminKey), { group: uid('nope'), payload: {} })).status, 404);
    const carolPub = await app.token(carol, { publish: true });
    assert.equal((await send(bearer(carolPub), { group: room, payload: {} })).status, 403, 'not a member');

    // A group signal reaches the other members, not the sender.
    const sb = await stream(app.url, await app.token(bob));
    const sa = await stream(app.url, await app.token(alice));
    open.push(sa, sb);
    r = await send(bearer(alicePub), { group: room, type: 'typing', payload: { on: true } });
    assert.deepEqual(r.body, { recipients: 1, delivered: 1, here: 1 });
    await sb.waitFor((c) => signalsOf(c).some((x) => x.group === room && x.from === alice));
    await send(bearer(app.tenant.adminKey), { to: [alice], type: 'marker', payload: {} });
    await sa.waitFor((c) => signalsOf(c).some((x) => x.type === 'marker'));
    assert.deepEqual(signalsOf(sa).map((x) => x.type), ['marker'], 'the sender does not get its own group signal');
  });
});

describe('signals across processes', () => {
  let a: TestApp;
  let b: ServerProcess;
  const open: SseClient[] = [];
  // The safety tick cannot deliver signals anyway; slowed so only the NOTIFY path is in play.
  before(async () => {
    a = await startApp({ SAFETY_TICK_S: '59' });
    b = await spawnServer({ DATABASE_URL: testDb().url, SAFETY_TICK_S: '59', JOBS_ENABLED: 'false' });
  });
  after(async () => { for (const c of open.splice(0)) c.close(); await a.close(); await b.stop(); });

  it('a signal sent to B reaches a stream and a held poll on A, and one sent to A reaches a stream on B', async () => {
    const u = uid();
    const s = await stream(a.url, await a.token(u, { device: 'tab' }));
    open.push(s);
    const held = a.http.get('/v1/poll?since=0&timeout=30').set('Authorization', bearer(await a.token(u, { device: 'phone' }))).then((r) => r);
    await waitFor(() => a.service.deps.registry.polls === 1);
    const r = await post(b.url, '/v1/signals', bearer(a.tenant.adminKey), { to: [u], type: 'typing', payload: { via: 'B' } });
    assert.equal(r.status, 202);
    assert.deepEqual(r.body, { recipients: 1, delivered: 'unknown', here: 0 }, 'B cannot know what A reached');
    await s.waitFor((c) => signalsOf(c).some((x) => x.payload.via === 'B'));
    const p = await held;
    assert.deepEqual(p.body.signals.map((x: { payload: unknown }) => x.payload), [{ via: 'B' }]);
    assert.deepEqual(p.body.messages, []);

    const v = uid();
    const token = await a.token(v);
    const sb = await stream(b.url, token);
    open.push(sb);
    const r2 = await a.http.post('/v1/signals').set('Authorization', bearer(a.tenant.adminKey)).send({ to: [v], type: 'typing', payload: { via: 'A' } });
    assert.equal(r2.body.delivered, 'unknown');
    await sb.waitFor((c) => signalsOf(c).some((x) => x.payload.via === 'A'));
  });

  it('a 4 KiB signal to 1000 long user ids travels in several notifications and reaches the first and the last', async () => {
    const prefix = uid('x');
    const users = Array.from({ length: 1000 }, (_, i) => `${prefix}${String(i).padStart(4, '0')}${'z'.repeat(110)}`);
    const first = await stream(a.url, await a.token(users[0]!));
    const last = await stream(a.url, await a.token(users[999]!));
    open.push(first, last);
    const payload = { text: 'y'.repeat(4000) };
    const r = await post(b.url, '/v1/signals', bearer(a.tenant.adminKey), { to: users, type: 'big', payload });
    assert.equal(r.status, 202);
    assert.equal(r.body.recipients, 1000);
    await first.waitFor((c) => signalsOf(c).some((x) => x.type === 'big'));
    await last.waitFor((c) => signalsOf(c).some((x) => x.type === 'big'));
    assert.deepEqual(signalsOf(last)[0].payload, payload);
  });
});

describe('signals and rate limits', () => {
  let app: TestApp;
  before(async () => { app = await startApp({ RATE_PUBLISH_DEVICE_PER_S: '1', RATE_PUBLISH_DEVICE_BURST: '0' }); });
  after(async () => { await app.close(); });

  it('a signal spends a publish token of the device: past the limit, 429 with Retry-After', async () => {
    const u = uid();
    const t = await app.token(u, { publish: true });
    const send = () => app.http.post('/v1/signals').set('Authorization', bearer(t)).send({ to: [u], type: 'typing', payload: {} });
    assert.equal((await send()).status, 202);
    const r = await send();
    assert.equal(r.status, 429);
    assert.equal(r.body.error, 'rate_limited');
    assert.ok(Number(r.headers['retry-after']) >= 1);
    const m = await app.http.post('/v1/messages').set('Authorization', bearer(t)).send({ to: [u], payload: {} });
    assert.equal(m.status, 429, 'the same bucket as messages');
  });
});
