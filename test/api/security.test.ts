// Security review as tests: client tokens (JWT) accepted only when exactly right; prototype-pollution
// keys stored faithfully or refused, never acted on; SSE fields safe from CR/LF injection; CORS and
// helmet; hostile query values are data, never SQL; credentials never echoed.
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { startApp, uid, type TestApp, type Tenant } from '../helpers/app.ts';
import { sql } from '../helpers/db.ts';
import { openSse } from '../helpers/sse.ts';
import { frame, comment } from '../../app/http/sse.ts';

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

describe('security', () => {
  let app: TestApp;
  let other: Tenant;
  let secret: string;
  let otherSecret: string;
  before(async () => {
    app = await startApp({ CORS_ORIGINS: 'https://good.example' });
    other = await app.newTenant();
    const secretOf = async (id: string) => (await sql<{ s: string }>('SELECT signing_secret AS s FROM tenants WHERE id = $1', [id]))[0]!.s;
    secret = await secretOf(app.tenant.id);
    otherSecret = await secretOf(other.id);
  });
  after(async () => { await app.close(); });

  describe('client tokens (JWT)', () => {
    const sign = (claims: Record<string, unknown>, key: string, alg = 'HS256') =>
      new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(new TextEncoder().encode(key));
    const good = () => ({ tid: app.tenant.id, sub: 'bob', scope: 'subscribe', exp: now() + 600 });
    const poll = (token: string) => app.http.get('/v1/poll?timeout=0').set('Authorization', `Bearer ${token}`);

    it('a correct token works (the control for the cases below)', async () => {
      assert.equal((await poll(await sign(good(), secret))).status, 200);
    });

    const cases: [string, () => Promise<string>][] = [
      ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(good())}.`],
      ['alg none with a signature', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(good())}.${(await sign(good(), secret)).split('.')[2]}`],
      ['a wrong secret', () => sign(good(), 'not-the-secret-not-the-secret-not-the-secret')],
      ['expired beyond the clock skew', () => sign({ ...good(), exp: now() - 120 }, secret)],
      ['no exp', () => sign({ tid: app.tenant.id, sub: 'bob', scope: 'subscribe' }, secret)],
      ["another tenant's tid (signed with this tenant's secret)", () => sign({ ...good(), tid: other.id }, secret)],
      ["this tenant's tid signed with another tenant's secret", () => sign(good(), otherSecret)],
      ['HS512 with the right secret', () => sign(good(), secret, 'HS512')],
      ['HS384 with the right secret', () => sign(good(), secret, 'HS384')],
      ['no sub', () => sign({ tid: app.tenant.id, scope: 'subscribe', exp: now() + 600 }, secret)],
      ['no scope', () => sign({ tid: app.tenant.id, sub: 'bob', exp: now() + 600 }, secret)],
      ['an unknown tenant', () => sign({ ...good(), tid: 'no-such-tenant' }, secret)],
      ['a payload changed after signing', async () => {
        const [h, , s] = (await sign(good(), secret)).split('.');
        return `${h}.${b64({ ...good(), sub: 'mallory' })}.${s}`;
      }],
      ['garbage', async () => 'eyJhbGciOiJIUzI1NiJ9.bm9wZQ.bm9wZQ'],
    ];
    for (const [name, make] of cases) {
      it(`401 for ${name}, in the header and in access_token`, async () => {
        const token = await make();
        const r = await poll(token);
        assert.equal(r.status, 401);
        assert.equal(r.body.error, 'unauthorized');
        assert.ok(!r.text.includes(token), 'the credential is not echoed');
        const q = await app.http.get(`/v1/poll?timeout=0&access_token=${encodeURIComponent(token)}`);
        assert.equal(q.status, 401);
      });
    }

    it('a token expired within the clock skew (30 s) is still accepted; the skew is bounded', async () => {
      assert.equal((await poll(await sign({ ...good(), exp: now() - 5 }, secret))).status, 200);
    });
  });

  describe('prototype-pollution keys', () => {
    it('__proto__ and constructor inside a payload are stored and returned faithfully, and pollute nothing', async () => {
      const u = uid();
      const raw = `{"to":["${u}"],"payload":{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"a":1}}`;
      const r = await app.http.post('/v1/messages').set('Authorization', `Bearer ${app.tenant.adminKey}`).set('Content-Type', 'application/json').send(raw);
      assert.equal(r.status, 201);
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
      const [stored] = await sql<{ p: string }>('SELECT payload::text AS p FROM messages WHERE tenant_id = $1 AND id = $2', [app.tenant.id, r.body.id]);
      assert.deepEqual(Object.keys(JSON.parse(stored!.p)).sort(), ['__proto__', 'a', 'constructor']);
      const t = await app.token(u);
      const p = await app.http.get('/v1/poll?since=0&timeout=0').set('Authorization', `Bearer ${t}`);
      const payload = JSON.parse(p.text).messages[0].payload;
      assert.ok(Object.hasOwn(payload, '__proto__'));
      assert.deepEqual(JSON.parse(JSON.stringify(payload)), JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"a":1}'));
      const m = await app.http.get(`/v1/messages?match=${encodeURIComponent('{"__proto__":{"polluted":1}}')}`).set('Authorization', `Bearer ${t}`);
      assert.equal(m.status, 200);
      assert.equal(m.body.messages.length, 1, 'match= with __proto__ is plain containment');
    });

    it('__proto__ or constructor at the top of a body is refused clearly (400 naming the field)', async () => {
      const bodies: [string, string][] = [
        ['/v1/messages', '{"__proto__":{"admin":true},"to":["x"],"payload":{}}'],
        ['/v1/messages', '{"constructor":{"prototype":{"x":1}},"to":["x"],"payload":{}}'],
        ['/v1/tokens', '{"user":"x","__proto__":{"scope":"subscribe publish"}}'],
        ['/v1/messages/batch', '{"messages":[{"__proto__":{},"to":["x"],"payload":{}}]}'],
      ];
      for (const [path, raw] of bodies) {
        const r = await app.http.post(path).set('Authorization', `Bearer ${app.tenant.adminKey}`).set('Content-Type', 'application/json').send(raw);
        const err = path.endsWith('batch') ? r.body.results[0] : r.body;
        assert.equal(err.error, 'invalid_request', `${path} ${raw}: ${r.text}`);
        assert.match(err.message, /__proto__|constructor/);
      }
      assert.equal(({} as Record<string, unknown>).admin, undefined);
    });
  });

  describe('SSE framing', () => {
    it('id and event fields refuse CR/LF/NUL; data lines cannot start new fields; comments are flattened', () => {
      assert.throws(() => frame('message\nevent: evil', '{}'));
      assert.throws(() => frame('message', '{}', '1\r\nevent: evil'));
      assert.throws(() => frame('message', '{}', '1\u0000'));
      assert.equal(frame('message', 'a\r\nevent: evil\ndata: x', 7), 'id: 7\nevent: message\ndata: a\ndata: event: evil\ndata: data: x\n\n');
      assert.equal(comment('a\nevent: evil'), ': a event: evil\n\n');
    });

    it('a payload full of SSE syntax arrives as one message event with the payload intact', async () => {
      const u = uid();
      const text = 'a\n\nevent: evil\ndata: {"x":1}\r\nid: 999\r\rretry: 1\u2028';
      await app.publish({ to: [u], payload: { text } });
      const s = await openSse(app.url, '/v1/stream?since=0', { authorization: `Bearer ${await app.token(u)}` });
      await s.waitFor((c) => c.messages().length === 1);
      s.close();
      assert.deepEqual(s.events.map((e) => e.event), ['ready', 'message']);
      assert.equal(s.events[1]!.id, '1');
      assert.equal(s.messages()[0]!.payload.text, text);
      assert.ok(!/^retry: 1$/m.test(s.raw));
    });
  });

  describe('headers, CORS and query values', () => {
    it('helmet headers are on', async () => {
      const r = await app.http.get('/healthz');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.match(r.headers['content-security-policy'] ?? '', /default-src 'self'/);
      assert.equal(r.headers['x-powered-by'], undefined);
    });

    it('CORS: only allow-listed origins, echoed exactly, never "*"', async () => {
      const good = await app.http.get('/healthz').set('Origin', 'https://good.example');
      assert.equal(good.headers['access-control-allow-origin'], 'https://good.example');
      assert.equal(good.headers['access-control-allow-credentials'], 'true');
      const evil = await app.http.get('/healthz').set('Origin', 'https://evil.example');
      assert.equal(evil.headers['access-control-allow-origin'], undefined);
      const pre = await app.http.options('/v1/messages').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'POST');
      assert.equal(pre.headers['access-control-allow-origin'], undefined);
      assert.notEqual(pre.status, 204);
    });

    it('hostile query values are data, never SQL', async () => {
      const u = uid();
      await app.publish({ to: [u], payload: { q: "'; DROP TABLE messages; --" } });
      const t = await app.token(u);
      const hostile = [
        `match=${encodeURIComponent(JSON.stringify({ q: "'; DROP TABLE messages; --" }))}`,
        `match=${encodeURIComponent(JSON.stringify({ "a') OR 1=1 --": 1 }))}`,
        `type=${encodeURIComponent("x' OR '1'='1")}`,
        `before=${encodeURIComponent('1; DELETE FROM inbox_entries')}`,
        `limit=${encodeURIComponent('1 UNION SELECT 1')}`,
      ];
      const statuses = [];
      for (const qs of hostile) statuses.push((await app.http.get(`/v1/messages?${qs}`).set('Authorization', `Bearer ${t}`)).status);
      assert.deepEqual(statuses, [200, 200, 400, 400, 400]);
      const hit = await app.http.get(`/v1/messages?${hostile[0]}`).set('Authorization', `Bearer ${t}`);
      assert.equal(hit.body.messages.length, 1, 'the quote is matched as text');
      const miss = await app.http.get(`/v1/messages?${hostile[1]}`).set('Authorization', `Bearer ${t}`);
      assert.equal(miss.body.messages.length, 0);
      assert.equal((await sql('SELECT 1 FROM messages LIMIT 1')).length, 1, 'the table is still there');
    });

    it('an API key in the wrong place is refused without being echoed', async () => {
      const r = await app.http.post(`/v1/messages?access_token=${app.tenant.adminKey}`).send({ to: ['x'], payload: {} });
      assert.equal(r.status, 401);
      assert.ok(!r.text.includes(app.tenant.adminKey));
      const bad = `${app.tenant.adminKey.slice(0, -4)}AAAA`;
      const w = await app.http.post('/v1/messages').set('Authorization', `Bearer ${bad}`).send({ to: ['x'], payload: {} });
      assert.equal(w.status, 401);
      assert.ok(!w.text.includes(bad));
    });
  });
});
