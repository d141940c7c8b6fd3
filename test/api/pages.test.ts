// The pages under public/: GET / is the demo, scripts revalidate (no stale client after an
// upgrade), and nothing inline, since the CSP allows only 'self'.
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../helpers/app.ts';

describe('pages under public/', () => {
  let app: TestApp;
  before(async () => { app = await startApp(); });
  after(async () => { await app.close(); });

  it('GET / is the demo page, with a same-origin-only CSP and no inline script or style', async () => {
    const r = await app.http.get('/');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.equal(r.headers['cache-control'], 'no-cache');
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    const html = r.text;
    assert.match(html, /<title>mailslot demo<\/title>/);
    // Every script is a file: inline code would be blocked by the CSP.
    for (const m of html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)) {
      assert.match(m[1]!, /src="[^"]+"/);
      assert.equal(m[2]!.trim(), '');
    }
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
    for (const src of ['mailslot.js', 'demo.js', 'demo.css']) {
      assert.ok(html.includes(`"${src}"`), src);
      const f = await app.http.get(`/${src}`);
      assert.equal(f.status, 200, src);
      assert.match(String(f.headers['content-type']), src.endsWith('.js') ? /javascript/ : /text\/css/);
    }
  });

  it('scripts are revalidated: no-cache with an ETag, a repeat is a 304', async () => {
    const r = await app.http.get('/mailslot.js');
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.ok(r.headers.etag);
    const again = await app.http.get('/mailslot.js').set('If-None-Match', r.headers.etag);
    assert.equal(again.status, 304);
  });

  it('the API is untouched: unknown paths are the JSON 404', async () => {
    const r = await app.http.get('/nope.html');
    assert.equal(r.status, 404);
    assert.equal(r.body.error, 'not_found');
  });
});
