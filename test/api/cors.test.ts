// CORS: only origins on the allow-list get CORS headers (preflight included); never "*".
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { openSse } from '../helpers/sse.ts';

const ALLOWED = 'https://app.example.com';

describe('CORS allow-list', () => {
  let app: TestApp;
  let closed: TestApp;
  before(async () => {
    app = await startApp({ CORS_ORIGINS: `${ALLOWED}, https://other.example.com` });
    closed = await startApp();
  });
  after(async () => { await app.close(); await closed.close(); });

  it('an allowed origin gets its own origin back with credentials, on requests and preflights', async () => {
    const r = await app.http.get('/healthz').set('Origin', ALLOWED);
    assert.equal(r.headers['access-control-allow-origin'], ALLOWED);
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.match(String(r.headers['vary']), /Origin/);

    const pre = await app.http.options('/v1/messages').set('Origin', ALLOWED)
      .set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'authorization, content-type');
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], ALLOWED);
    assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
    assert.match(String(pre.headers['access-control-allow-headers']), /Authorization/);
    assert.match(String(pre.headers['access-control-allow-headers']), /Last-Event-ID/);
    assert.ok(Number(pre.headers['access-control-max-age']) > 0);

    // A cross-origin EventSource (withCredentials) gets the headers on the stream too.
    const t = await app.token(uid());
    const sse = await openSse(app.url, `/v1/stream?access_token=${t}`, { origin: ALLOWED });
    try {
      assert.equal(sse.headers['access-control-allow-origin'], ALLOWED);
    } finally {
      sse.close();
    }
  });

  it('any other origin gets no CORS header at all, preflight included', async () => {
    for (const origin of ['https://evil.example.com', 'null', 'https://app.example.com.evil.com', 'http://app.example.com']) {
      const r = await app.http.get('/healthz').set('Origin', origin);
      assert.equal(r.headers['access-control-allow-origin'], undefined, origin);
      assert.equal(r.headers['access-control-allow-credentials'], undefined, origin);
      const pre = await app.http.options('/v1/messages').set('Origin', origin).set('Access-Control-Request-Method', 'POST');
      assert.equal(pre.headers['access-control-allow-origin'], undefined, origin);
      assert.equal(pre.headers['access-control-allow-methods'], undefined, origin);
    }
  });

  it('without an allow-list nobody gets CORS headers, and "*" is never sent', async () => {
    const r = await closed.http.get('/healthz').set('Origin', ALLOWED);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    for (const a of [app, closed]) {
      for (const path of ['/healthz', '/v1/poll', '/', '/mailslot.js']) {
        const x = await a.http.get(path).set('Origin', ALLOWED);
        assert.notEqual(x.headers['access-control-allow-origin'], '*', path);
      }
    }
  });
});
