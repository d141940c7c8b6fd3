import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { sql } from '../helpers/db.ts';

// Every case gets a 4xx in the contract's shape, and the server keeps serving.
describe('bad input', () => {
  let app: TestApp;
  let token: string;
  before(async () => { app = await startApp({ PAYLOAD_MAX_BYTES: '1024' }); token = await app.token(uid()); });
  after(async () => { await app.close(); });

  const expectError = (r: { status: number; body: Record<string, unknown> }, status: number, code: string, field?: RegExp) => {
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.equal(r.body.error, code);
    assert.equal(typeof r.body.message, 'string');
    assert.equal(typeof r.body.requestId, 'string');
    if (field) assert.match(String(r.body.message), field);
  };
  const publishRaw = (raw: string, type = 'application/json') => app.http.post('/v1/messages')
    .set('Authorization', `Bearer ${app.tenant.adminKey}`).set('Content-Type', type).send(raw);
  const publish = (body: unknown) => app.http.post('/v1/messages').set('Authorization', `Bearer ${app.tenant.adminKey}`).send(body as object);

  it('malformed JSON is 400 invalid_json', async () => {
    for (const raw of ['{', '{"to":[', 'nul', '{"a":1}}', '\u0000']) expectError(await publishRaw(raw), 400, 'invalid_json');
  });

  it('a missing or non-JSON body is 400', async () => {
    expectError(await publishRaw('to=bob', 'application/x-www-form-urlencoded'), 400, 'invalid_request', /JSON body is required/);
    expectError(await app.http.post('/v1/messages').set('Authorization', `Bearer ${app.tenant.adminKey}`), 400, 'invalid_request');
  });

  it('wrong types, missing fields, invalid ids and unknown fields name the field', async () => {
    const u = uid();
    const cases: [unknown, RegExp][] = [
      [[1, 2], /body/],
      [{ to: [u] }, /payload/],
      [{ to: [u], payload: [] }, /payload/],
      [{ to: [u], payload: 'x' }, /payload/],
      [{ to: [u], payload: null }, /payload/],
      [{ to: u, payload: {} }, /^to/],
      [{ to: [], payload: {} }, /^to/],
      [{ to: ['bad user'], payload: {} }, /to\[0\]/],
      [{ to: ['x'.repeat(129)], payload: {} }, /to\[0\]/],
      [{ to: Array.from({ length: 1001 }, (_, i) => `u${i}`), payload: {} }, /^to/],
      [{ to: [u], payload: {}, type: 'a b' }, /type/],
      [{ to: [u], payload: {}, ttlSeconds: 1.5 }, /ttlSeconds/],
      [{ to: [u], payload: {}, ttlSeconds: '60' }, /ttlSeconds/],
      [{ to: [u], payload: {}, dedupId: '' }, /dedupId/],
      [{ to: [u], payload: {}, extra: true }, /unknown field "extra"/],
      [{ to: [u], group: 'g', payload: {} }, /exactly one/],
      [{ payload: {} }, /exactly one/],
    ];
    for (const [body, field] of cases) expectError(await publish(body), 400, 'invalid_request', field);
  });

  it('payloads jsonb cannot store, or nested too deep, are refused before the database', async () => {
    const u = uid();
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expectError(await publish({ to: [u], payload: deep }), 400, 'invalid_request', /nested deeper than 32/);
    expectError(await publishRaw(`{"to":["${u}"],"payload":{"a":"x\\u0000y"}}`), 400, 'invalid_request', /u0000/);
    expectError(await publishRaw(`{"to":["${u}"],"payload":{"k\\u0000":1}}`), 400, 'invalid_request', /u0000/);
    expectError(await publishRaw(`{"to":["${u}"],"payload":{"a":"\\ud800"}}`), 400, 'invalid_request', /surrogate/);
    expectError(await publishRaw(`{"to":["${u}"],"payload":{"a":"\\udc00x"}}`), 400, 'invalid_request', /surrogate/);
    // A hostile depth far beyond any stack.
    const hostile = `{"to":["${u}"],"payload":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
    const r = await publishRaw(hostile);
    assert.ok(r.status === 400 || r.status === 413, String(r.status));
    // A valid astral character is fine.
    assert.equal((await publish({ to: [u], payload: { e: '😀' } })).status, 201);
    const rows = await sql('SELECT count(*)::int AS n FROM inbox_entries WHERE tenant_id = $1 AND user_id = $2', [app.tenant.id, u]);
    assert.equal(rows[0]!.n, 1);
  });

  it('oversize payload is 413 payload_too_large; an oversize body too', async () => {
    expectError(await publish({ to: [uid()], payload: { a: 'x'.repeat(2000) } }), 413, 'payload_too_large');
    expectError(await publishRaw(JSON.stringify({ to: ['x'], payload: { a: 'x'.repeat(300_000) } })), 413, 'payload_too_large');
  });

  it('absurd or malformed query parameters are 400; timeout above the maximum is clamped', async () => {
    const get = (qs: string) => app.http.get(`/v1/poll?${qs}`).set('Authorization', `Bearer ${token}`);
    for (const qs of ['since=-1', 'since=1.5', 'since=abc', 'since=1e3', 'limit=0', 'limit=1001', 'limit=x', 'timeout=-5', 'timeout=2.5',
      'since=0&since=1', 'ack=maybe', 'since=99999999999999999999']) {
      expectError(await get(qs), 400, 'invalid_request');
    }
    for (const qs of ['limit=0', 'before=x', 'match=%7Bbad', 'match=%5B1%5D', 'type=a%20b', 'match=' + encodeURIComponent('{"a":"\\u0000"}')]) {
      expectError(await app.http.get(`/v1/messages?${qs}`).set('Authorization', `Bearer ${token}`), 400, 'invalid_request');
    }
    expectError(await app.http.post('/v1/ack').set('Authorization', `Bearer ${token}`).send({ seq: -1 }), 400, 'invalid_request', /seq/);
    expectError(await app.http.post('/v1/ack').set('Authorization', `Bearer ${token}`).send({ seq: '1' }), 400, 'invalid_request', /seq/);
    expectError(await app.http.post('/v1/tokens').set('Authorization', `Bearer ${app.tenant.adminKey}`).send({ user: 'a b' }), 400, 'invalid_request', /user/);
  });

  it('unknown routes are 404 in the contract shape, and the server still serves', async () => {
    expectError(await app.http.get('/v1/nope').set('Authorization', `Bearer ${token}`), 404, 'not_found');
    expectError(await app.http.get('/nope'), 404, 'not_found');
    assert.equal((await app.http.get('/healthz')).status, 200);
    assert.equal((await app.http.get('/readyz')).status, 200);
  });
});
