// Rate limits (token buckets per device, API key and tenant) and connection caps (streams per
// device and user, held connections per process).
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { openSse, type SseClient } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rate limits', () => {
  let app: TestApp;
  before(async () => {
    app = await startApp({
      RATE_PUBLISH_DEVICE_PER_S: '2', RATE_PUBLISH_DEVICE_BURST: '0',
      RATE_PUBLISH_KEY_PER_S: '5', RATE_PUBLISH_KEY_BURST: '0',
      RATE_PUBLISH_TENANT_PER_S: '8', RATE_PUBLISH_TENANT_BURST: '0',
      RATE_CONNECT_DEVICE_PER_S: '3', RATE_CONNECT_DEVICE_BURST: '0',
    });
  });
  after(async () => { await app.close(); });

  const publishAs = (cred: string, to: string) =>
    app.http.post('/v1/messages').set('Authorization', `Bearer ${cred}`).send({ to: [to], payload: { n: 1 } }).then((r) => r);

  it('a burst of publishes from one device over the limit gets 429 + Retry-After; another device is not affected; later it passes', async () => {
    const u = uid();
    const tenant = await app.newTenant();
    const t1 = await app.token(u, { device: 'one', publish: true, tenant });
    const t2 = await app.token(u, { device: 'two', publish: true, tenant });
    const burst = await Promise.all(Array.from({ length: 10 }, () => publishAs(t1, u)));
    const limited = burst.filter((r) => r.status === 429);
    // 2 a second: even a burst spread over two windows lets at most 4 through.
    const passed = burst.filter((r) => r.status === 201).length;
    assert.ok(passed >= 2 && passed <= 4, `${passed} passed`);
    assert.equal(limited.length, 10 - passed);
    for (const r of limited) {
      assert.equal(r.body.error, 'rate_limited');
      assert.equal(typeof r.body.message, 'string');
      assert.equal(typeof r.body.requestId, 'string');
      assert.ok(Number(r.headers['retry-after']) >= 1, 'Retry-After in whole seconds');
    }
    assert.equal((await publishAs(t2, u)).status, 201, 'another device of the same user is not affected');
    await sleep(Number(limited[0]!.headers['retry-after']) * 1000);
    assert.equal((await publishAs(t1, u)).status, 201, 'after Retry-After it passes again');
  });

  it('per API key and per tenant; another tenant is not affected', async () => {
    const a = await app.newTenant();
    const b = await app.newTenant();
    const u = uid();
    const byAdmin = await Promise.all(Array.from({ length: 12 }, () => publishAs(a.adminKey, u)));
    const keyLimited = byAdmin.filter((r) => r.status === 429);
    assert.ok(keyLimited.length >= 2, 'per-key bucket of 5 a second');
    assert.ok(keyLimited.every((r) => /API key/.test(r.body.message)));
    const c = await app.newTenant();
    // Both keys of one tenant at once: 10 > the tenant's 8 a second, though each key is within its 5.
    const both = await Promise.all([...Array.from({ length: 5 }, () => publishAs(c.adminKey, u)), ...Array.from({ length: 5 }, () => publishAs(c.publishKey, u))]);
    const tenantLimited = both.filter((r) => r.status === 429);
    assert.ok(tenantLimited.length >= 2, 'the tenant bucket is shared by its keys');
    assert.ok(tenantLimited.every((r) => /tenant/.test(r.body.message)));
    assert.equal((await publishAs(b.adminKey, u)).status, 201, 'tenant B is not affected');
  });

  it('a batch counts each message; a batch larger than the bucket passes when the bucket is full', async () => {
    const t = await app.newTenant();
    const messages = Array.from({ length: 4 }, () => ({ to: [uid()], payload: {} }));
    const first = await app.http.post('/v1/messages/batch').set('Authorization', `Bearer ${t.adminKey}`).send({ messages });
    assert.equal(first.status, 200);
    const second = await app.http.post('/v1/messages/batch').set('Authorization', `Bearer ${t.adminKey}`).send({ messages });
    assert.equal(second.status, 429, '4 + 4 > 5 a second');
    assert.equal(second.body.error, 'rate_limited');
    const big = Array.from({ length: 20 }, () => ({ to: [uid()], payload: {} }));
    const t2 = await app.newTenant();
    const r = await app.http.post('/v1/messages/batch').set('Authorization', `Bearer ${t2.adminKey}`).send({ messages: big });
    assert.equal(r.status, 200);
    assert.equal(r.body.results.filter((x: { seqs?: unknown }) => x.seqs).length, 20);
  });

  it('poll and stream opens are limited per device; another device is not affected', async () => {
    const u = uid();
    const t1 = await app.token(u, { device: 'a' });
    const t2 = await app.token(u, { device: 'b' });
    const polls = [];
    for (let i = 0; i < 8; i++) polls.push(await app.http.get('/v1/poll?timeout=0').set('Authorization', `Bearer ${t1}`));
    assert.deepEqual(polls.slice(0, 3).map((r) => r.status), [200, 200, 200]);
    const limited = polls.find((r) => r.status === 429);
    assert.ok(limited, '3 a second: some of 8 quick opens are refused');
    assert.equal(limited.body.error, 'rate_limited');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    const s = await openSse(app.url, '/v1/stream', { authorization: `Bearer ${t1}` });
    assert.equal(s.status, 429, 'a stream open counts too');
    s.close();
    assert.equal((await app.http.get('/v1/poll?timeout=0').set('Authorization', `Bearer ${t2}`)).status, 200);
  });
});

describe('connection caps', () => {
  let app: TestApp;
  const open: SseClient[] = [];
  before(async () => {
    app = await startApp({ STREAMS_PER_DEVICE_MAX: '2', STREAMS_PER_USER_MAX: '3', CONNECTIONS_MAX: '5' });
  });
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await waitFor(() => app.service.deps.slots.held === 0, { what: 'every slot given back' });
  });
  after(async () => { await app.close(); });

  const stream = async (token: string) => {
    const c = await openSse(app.url, '/v1/stream', { authorization: `Bearer ${token}` });
    open.push(c);
    return c;
  };

  it('more streams than allowed per device or user get 429 too_many_connections; closing one frees a slot', async () => {
    const u = uid();
    const d1 = await app.token(u, { device: 'd1' });
    const d2 = await app.token(u, { device: 'd2' });
    const d3 = await app.token(u, { device: 'd3' });
    const a = await stream(d1);
    await stream(d1);
    assert.equal(a.status, 200);
    const third = await stream(d1);
    assert.equal(third.status, 429);
    await third.waitFor((c) => c.closed);
    assert.equal(JSON.parse(third.raw).error, 'too_many_connections');
    assert.ok(Number(third.headers['retry-after']) >= 1);
    assert.equal((await stream(d2)).status, 200, 'another device still has room');
    const overUser = await stream(d3);
    assert.equal(overUser.status, 429, 'the user holds 3 streams');
    assert.match(JSON.parse((await overUser.waitFor((c) => c.closed), overUser.raw)).message, /user/);
    a.close();
    await waitFor(() => app.service.deps.slots.held === 2, { what: 'the closed stream to give back its slot' });
    const again = await stream(d1);
    assert.equal(again.status, 200, 'a slot freed');
    await again.waitFor((c) => c.events.some((e) => e.event === 'ready'));
  });

  it('the process-wide cap answers 503; a device re-polling (superseding its own poll) still gets in', async () => {
    const users = Array.from({ length: 5 }, () => uid());
    const tokens = await Promise.all(users.map((u) => app.token(u)));
    const held = tokens.map((t) => app.http.get('/v1/poll?timeout=20').set('Authorization', `Bearer ${t}`).then((r) => r));
    await waitFor(() => app.service.deps.registry.polls === 5, { what: '5 held polls' });
    const extra = await app.http.get('/v1/poll?timeout=20').set('Authorization', `Bearer ${await app.token(uid())}`);
    assert.equal(extra.status, 503);
    assert.equal(extra.body.error, 'unavailable');
    assert.ok(Number(extra.headers['retry-after']) >= 1);
    const s = await stream(await app.token(uid()));
    assert.equal(s.status, 503, 'streams count against the same cap');
    const repoll = app.http.get('/v1/poll?timeout=20').set('Authorization', `Bearer ${tokens[0]}`).then((r) => r);
    const first = await held[0]!;
    assert.equal(first.body.superseded, true);
    await app.publish({ to: users, payload: { end: true } });
    const rest = await Promise.all([repoll, ...held.slice(1)]);
    assert.ok(rest.every((r) => r.status === 200 && r.body.messages.length === 1));
  });
});
