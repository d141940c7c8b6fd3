import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { openSse, type SseClient } from '../helpers/sse.ts';
import { sql } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

describe('devices, read state and receipts', () => {
  let app: TestApp;
  const open: SseClient[] = [];
  // A short online window: the last_seen refresh of held streams runs every second.
  before(async () => { app = await startApp({ DEVICE_ONLINE_WINDOW_S: '3' }); });
  after(async () => { await app.close(); });
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await waitFor(() => app.service.deps.registry.streamCount === 0, { what: 'streams closed' });
  });

  const stream = async (token: string) => {
    const c = await openSse(app.url, '/v1/stream', { Authorization: `Bearer ${token}` });
    open.push(c);
    await c.waitFor((x) => x.events.some((e) => e.event === 'ready'));
    return c;
  };
  const auth = (t: string) => `Bearer ${t}`;

  it('two devices: both receive everything, each has its own cursor, a read reaches the other at once', async () => {
    const u = uid();
    const [phone, laptop] = [await app.token(u, { device: 'phone' }), await app.token(u, { device: 'laptop' })];
    const [sp, sl] = [await stream(phone), await stream(laptop)];
    for (let i = 1; i <= 3; i++) await app.publish({ to: [u], payload: { i } });
    await sp.waitFor((c) => c.messages().length === 3);
    await sl.waitFor((c) => c.messages().length === 3);
    assert.deepEqual(sp.messages().map((m) => m.seq), [1, 2, 3]);
    assert.deepEqual(sl.messages().map((m) => m.seq), [1, 2, 3]);

    assert.deepEqual((await app.http.post('/v1/ack').set('Authorization', auth(phone)).send({ seq: 3 })).body, { acked: 3 });
    let devices = (await app.http.get('/v1/devices').set('Authorization', auth(laptop))).body.devices;
    assert.deepEqual(devices.map((d: { device: string; cursor: number; online: boolean }) => [d.device, d.cursor, d.online]),
      [['laptop', 0, true], ['phone', 3, true]], 'acking on one device does not move the other');
    assert.ok(!Number.isNaN(Date.parse(devices[0].lastSeen)));

    const r = await app.http.post('/v1/read').set('Authorization', auth(phone)).send({ seq: 2 });
    assert.deepEqual(r.body, { read: 2 });
    await sl.waitFor((c) => c.events.some((e) => e.event === 'read'));
    const ev = sl.events.find((e) => e.event === 'read')!;
    assert.deepEqual(JSON.parse(ev.data), { seq: 2 });
    assert.equal(ev.id, undefined, 'a read event carries no id (it is not an inbox entry)');
    assert.ok(!sp.events.some((e) => e.event === 'read'), 'the device that read is not told');

    assert.deepEqual((await app.http.post('/v1/read').set('Authorization', auth(laptop)).send({ seq: 1 })).body, { read: 2 }, 'never backwards');
    const ahead = await app.http.post('/v1/read').set('Authorization', auth(laptop)).send({ seq: 4 });
    assert.equal(ahead.status, 400);
    assert.equal((await app.http.post('/v1/read').set('Authorization', auth(laptop)).send({ seq: -1 })).status, 400);
    assert.equal((await app.http.post('/v1/read').set('Authorization', `Bearer ${app.tenant.adminKey}`).send({ seq: 1 })).status, 403);
    const poll = await app.http.get('/v1/poll?since=0&timeout=0').set('Authorization', auth(laptop));
    assert.equal(poll.body.read, 2, 'polls carry the read marker');

    devices = (await app.http.get(`/v1/devices?user=${u}`).set('Authorization', `Bearer ${app.tenant.adminKey}`)).body.devices;
    assert.equal(devices.length, 2, 'an admin key lists any user\'s devices');
    assert.equal((await app.http.get('/v1/devices').set('Authorization', `Bearer ${app.tenant.adminKey}`)).status, 400);
    assert.equal((await app.http.get(`/v1/devices?user=${u}`).set('Authorization', `Bearer ${app.tenant.publishKey}`)).status, 403);
  });

  it('online: held here, or seen within the window by any instance; held streams keep last_seen fresh', async () => {
    const u = uid();
    const t = await app.token(u, { device: 'tab' });
    await stream(t);
    // Pretend the stream's last refresh is long ago: the refresh must bring it back into the window.
    await sql(`UPDATE devices SET last_seen = now() - interval '1 hour' WHERE tenant_id = $1 AND user_id = $2`, [app.tenant.id, u]);
    await waitFor(async () => (await sql(`SELECT 1 FROM devices WHERE tenant_id = $1 AND user_id = $2 AND last_seen > now() - interval '3 seconds'`, [app.tenant.id, u])).length === 1,
      { what: 'last_seen refreshed' });
    for (const c of open.splice(0)) c.close();
    await waitFor(() => app.service.deps.registry.streamCount === 0);
    const list = async () => (await app.http.get('/v1/devices').set('Authorization', auth(t))).body.devices[0];
    await sql(`UPDATE devices SET last_seen = now() WHERE tenant_id = $1 AND user_id = $2`, [app.tenant.id, u]);
    assert.equal((await list()).online, true, 'seen a moment ago: online although nothing is held');
    await sql(`UPDATE devices SET last_seen = now() - interval '1 minute' WHERE tenant_id = $1 AND user_id = $2`, [app.tenant.id, u]);
    // GET /v1/devices itself does not count as being seen (it is not a delivery connection).
    assert.equal((await list()).online, false);
  });

  it('receipts: delivered after an ack, read after a read marker; only the sender or an admin key may ask', async () => {
    const [a, b, c] = [uid('a'), uid('b'), uid('c')];
    const alice = await app.token(a, { publish: true });
    const sent = await app.http.post('/v1/messages').set('Authorization', auth(alice)).send({ to: [b, c], type: 'chat', payload: { text: 'hi' } });
    assert.equal(sent.status, 201);
    const id = sent.body.id as string;
    const receipts = async (cred: string) => app.http.get(`/v1/messages/${id}`).set('Authorization', cred);
    let r = await receipts(auth(alice));
    assert.equal(r.status, 200);
    assert.equal(r.body.message.id, id);
    assert.deepEqual(r.body.message.payload, { text: 'hi' });
    const byUser = (body: { recipients: { user: string }[] }) => Object.fromEntries(body.recipients.map(({ user, ...x }) => [user, x]));
    assert.deepEqual(byUser(r.body), {
      [a]: { seq: 1, delivered: false, read: false },
      [b]: { seq: 1, delivered: false, read: false },
      [c]: { seq: 1, delivered: false, read: false },
    });
    const bob = await app.token(b);
    await app.http.post('/v1/ack').set('Authorization', auth(bob)).send({ seq: 1 });
    r = await receipts(auth(alice));
    assert.deepEqual(byUser(r.body)[b], { seq: 1, delivered: true, read: false });
    await app.http.post('/v1/read').set('Authorization', auth(bob)).send({ seq: 1 });
    r = await receipts(`Bearer ${app.tenant.adminKey}`);
    assert.deepEqual(byUser(r.body)[b], { seq: 1, delivered: true, read: true });
    assert.deepEqual(byUser(r.body)[c], { seq: 1, delivered: false, read: false });
    assert.equal(r.body.more, false);

    assert.equal((await receipts(auth(await app.token(c)))).status, 404, 'a recipient is not the sender');
    assert.equal((await receipts(auth(await app.token(uid())))).status, 404, 'a third user');
    assert.equal((await receipts(`Bearer ${app.tenant.publishKey}`)).status, 404);
    const other = await app.newTenant();
    assert.equal((await receipts(`Bearer ${other.adminKey}`)).status, 404, 'another tenant');
    assert.equal((await app.http.get('/v1/messages/not-a-uuid').set('Authorization', auth(alice))).status, 404);
    assert.equal((await app.http.get(`/v1/messages/${id}`)).status, 401);

    // Paging through the recipients of a larger message.
    const many = Array.from({ length: 5 }, (_, i) => `${a}-r${i}`);
    const big = await app.publish({ to: many, payload: {} });
    const p1 = await app.http.get(`/v1/messages/${big.id}?limit=3`).set('Authorization', `Bearer ${app.tenant.adminKey}`);
    assert.equal(p1.body.recipients.length, 3);
    assert.equal(p1.body.more, true);
    const p2 = await app.http.get(`/v1/messages/${big.id}?limit=3&after=${p1.body.recipients[2].user}`).set('Authorization', `Bearer ${app.tenant.adminKey}`);
    assert.deepEqual([...p1.body.recipients, ...p2.body.recipients].map((x: { user: string }) => x.user), many);
    assert.equal(p2.body.more, false);
  });
});
