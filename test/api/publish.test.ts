import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { sql } from '../helpers/db.ts';

describe('publishing', () => {
  let app: TestApp;
  before(async () => { app = await startApp(); });
  after(async () => { await app.close(); });

  const post = (body: unknown, key = app.tenant.adminKey) => app.http.post('/v1/messages').set('Authorization', `Bearer ${key}`).send(body as object);

  it('201 with id, per-recipient seqs, createdAt and expiresAt; the entries are committed', async () => {
    const [a, b] = [uid(), uid()];
    const r = await post({ to: [a, b, a], type: 'chat', payload: { text: 'hi' }, ttlSeconds: 60 });
    assert.equal(r.status, 201);
    assert.equal(r.body.duplicate, false);
    assert.deepEqual(r.body.seqs, { [a]: 1, [b]: 1 }, 'a repeated recipient gets one entry');
    const ttl = Date.parse(r.body.expiresAt) - Date.parse(r.body.createdAt);
    assert.equal(ttl, 60_000);
    const rows = await sql('SELECT user_id, seq FROM inbox_entries WHERE tenant_id = $1 AND message_id = $2 ORDER BY user_id', [app.tenant.id, r.body.id]);
    assert.equal(rows.length, 2);
  });

  it('dedupId: a repeat stores nothing and answers 200 duplicate with the first answer; another body is 409', async () => {
    const u = uid();
    const body = { to: [u], payload: { n: 1 }, dedupId: 'order-1' };
    const first = await post(body);
    assert.equal(first.status, 201);
    const again = await post(body);
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    assert.equal(again.body.id, first.body.id);
    assert.deepEqual(again.body.seqs, first.body.seqs);
    const conflict = await post({ ...body, payload: { n: 2 } });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error, 'dedup_conflict');
    const n = await sql('SELECT count(*)::int AS n FROM messages WHERE tenant_id = $1 AND dedup_id = $2', [app.tenant.id, 'order-1']);
    assert.equal(n[0]!.n, 1);
  });

  it('Idempotency-Key works as dedupId; concurrent repeats store one message', async () => {
    const u = uid();
    const rs = await Promise.all(Array.from({ length: 10 }, () =>
      app.http.post('/v1/messages').set('Authorization', `Bearer ${app.tenant.adminKey}`).set('Idempotency-Key', 'k-77').send({ to: [u], payload: { x: 1 } })));
    assert.equal(rs.filter((r) => r.status === 201).length, 1);
    assert.equal(rs.filter((r) => r.status === 200 && r.body.duplicate).length, 9);
    assert.equal(new Set(rs.map((r) => r.body.id)).size, 1);
    const n = await sql('SELECT count(*)::int AS n FROM inbox_entries WHERE tenant_id = $1 AND user_id = $2', [app.tenant.id, u]);
    assert.equal(n[0]!.n, 1);
  });

  it('a client token publishes as its own user, whose inbox gets a copy; it needs the publish scope', async () => {
    const [alice, bob] = [uid(), uid()];
    const t = await app.token(alice, { publish: true });
    const r = await app.http.post('/v1/messages').set('Authorization', `Bearer ${t}`).send({ to: [bob], payload: { hi: 1 } });
    assert.equal(r.status, 201);
    assert.deepEqual(r.body.seqs, { [alice]: 1, [bob]: 1 });
    const hist = await app.http.get('/v1/messages').set('Authorization', `Bearer ${t}`);
    assert.equal(hist.body.messages[0].from, alice);
    const spoof = await app.http.post('/v1/messages').set('Authorization', `Bearer ${t}`).send({ to: [bob], from: bob, payload: {} });
    assert.equal(spoof.status, 403);
    const sub = await app.token(alice);
    const denied = await app.http.post('/v1/messages').set('Authorization', `Bearer ${sub}`).send({ to: [bob], payload: {} });
    assert.equal(denied.status, 403);
  });

  it('an API-key publish with from naming a user is that user\'s message', async () => {
    const [alice, bob] = [uid(), uid()];
    const r = await post({ to: [bob], from: alice, payload: {} }, app.tenant.publishKey);
    assert.equal(r.status, 201);
    assert.deepEqual(Object.keys(r.body.seqs).sort(), [alice, bob].sort());
  });

  it('ttlSeconds is capped by the tenant maximum', async () => {
    const r = await post({ to: [uid()], payload: {}, ttlSeconds: 10 * 365 * 86400 });
    assert.equal(r.status, 201);
    assert.equal(Date.parse(r.body.expiresAt) - Date.parse(r.body.createdAt), 7 * 86400 * 1000);
  });

  it('batch: one result per message, in order; a bad message fails alone', async () => {
    const u = uid();
    const r = await app.http.post('/v1/messages/batch').set('Authorization', `Bearer ${app.tenant.adminKey}`).send({
      messages: [{ to: [u], payload: { i: 1 } }, { to: [u], payload: 'nope' }, { to: [u], payload: { i: 3 } }],
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.results.length, 3);
    assert.equal(r.body.results[0].seqs[u], 1);
    assert.equal(r.body.results[1].status, 400);
    assert.equal(r.body.results[1].error, 'invalid_request');
    assert.match(r.body.results[1].message, /messages\[1\]\.payload/);
    assert.equal(r.body.results[2].seqs[u], 2);
  });

  it('history: newest first, before/after exclusive, type filter, match containment', async () => {
    const u = uid();
    for (let i = 1; i <= 6; i++) await post({ to: [u], type: i % 2 ? 'odd' : 'even', payload: { i, tag: i > 3 ? 'late' : 'early', deep: { k: i } } });
    const t = await app.token(u);
    const get = (qs: string) => app.http.get(`/v1/messages?${qs}`).set('Authorization', `Bearer ${t}`);
    let r = await get('limit=2');
    assert.deepEqual(r.body.messages.map((m: { seq: number }) => m.seq), [6, 5]);
    assert.equal(r.body.more, true);
    r = await get('before=5&after=2');
    assert.deepEqual(r.body.messages.map((m: { seq: number }) => m.seq), [4, 3]);
    r = await get('type=odd');
    assert.deepEqual(r.body.messages.map((m: { seq: number }) => m.seq), [5, 3, 1]);
    r = await get(`match=${encodeURIComponent('{"tag":"late","deep":{"k":5}}')}`);
    assert.deepEqual(r.body.messages.map((m: { seq: number }) => m.seq), [5]);
    r = await app.http.get(`/v1/messages?user=${u}&limit=1`).set('Authorization', `Bearer ${app.tenant.adminKey}`);
    assert.deepEqual(r.body.messages.map((m: { seq: number }) => m.seq), [6]);
  });
});
