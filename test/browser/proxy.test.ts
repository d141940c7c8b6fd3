// Real nginx from Debian in front of the server. With nginx's default `proxy_buffering on`, streams
// still flow (the server sends X-Accel-Buffering: no), polls work, and a proxy read timeout shorter
// than the poll timeout costs nothing. A proxy that ignores X-Accel-Buffering makes SSE unusable:
// the page notices the missing `ready` and polls instead, by itself.
import assert from 'node:assert/strict';
import http from 'node:http';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { launch, shownSeqs, shownTexts, transportOf, type Browser } from '../helpers/browser.ts';
import { startNginx, type Proxy } from '../helpers/nginx.ts';
import { openSse } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';

function get(url: string, token: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

describe('browser and proxies: nginx in front', function () {
  this.timeout(120_000);
  let app: TestApp;
  let proxy: Proxy | null = null;
  let b: Browser | null = null;
  // Heartbeats far apart: nothing but the message itself could push a buffered stream along.
  before(async () => { app = await startApp({ STREAM_HEARTBEAT_S: '300' }); });
  after(async () => { await app.close(); });
  afterEach(async () => {
    if (b) await b.close();
    if (proxy) await proxy.close();
    b = null;
    proxy = null;
  });

  it('default proxy_buffering on: a stream delivers each message as it is published', async () => {
    proxy = await startNginx(app.url);
    const u = uid();
    const token = await app.token(u);
    const sse = await openSse(proxy.url, `/v1/stream?since=0&access_token=${token}`);
    try {
      assert.equal(sse.status, 200);
      await sse.waitFor((c) => c.events.some((e) => e.event === 'ready'), 10_000);
      for (let i = 1; i <= 3; i++) {
        await app.publish({ to: [u], payload: { i } });
        // A buffering proxy would sit on this small event until the stream ended (minutes away).
        await sse.waitFor((c) => c.messages().length === i, 10_000);
      }
      assert.deepEqual(sse.messages().map((m) => m.seq), [1, 2, 3]);
    } finally {
      sse.close();
    }
  });

  it('default proxy_buffering on: a held long poll is answered when a message arrives', async () => {
    proxy = await startNginx(app.url);
    const u = uid();
    const token = await app.token(u);
    const pending = get(`${proxy.url}/v1/poll?since=0&timeout=20`, token);
    await waitFor(() => app.service.deps.registry.polls === 1, { what: 'the poll to be held' });
    await app.publish({ to: [u], payload: { via: 'nginx' } });
    const r = await pending;
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body).messages.map((m: { payload: unknown }) => m.payload), [{ via: 'nginx' }]);
  });

  it('the demo page behind the default proxy streams over SSE', async () => {
    proxy = await startNginx(app.url);
    const u = uid();
    b = await launch();
    const p = await b.open(`${proxy.url}/?user=${u}#key=${app.tenant.adminKey}`);
    await waitFor(async () => (await transportOf(p)).connected, { what: 'the page to connect' });
    assert.equal((await transportOf(p)).transport, 'sse');
    for (let i = 1; i <= 3; i++) await app.publish({ to: [u], payload: { text: `s${i}` } });
    await waitFor(async () => (await shownSeqs(p)).length === 3, { what: 'three messages' });
    assert.deepEqual(await shownTexts(p), ['s1', 's2', 's3']);
  });

  it('a proxy read timeout shorter than the poll timeout is survived without loss', async () => {
    proxy = await startNginx(app.url, 'proxy_read_timeout 2s;');
    const u = uid();
    b = await launch();
    const p = await b.open(`${proxy.url}/?user=${u}&transport=poll#key=${app.tenant.adminKey}`);
    await waitFor(async () => (await transportOf(p)).connected, { what: 'the page to connect' });
    await app.publish({ to: [u], payload: { text: 'first' } });
    await waitFor(async () => (await shownSeqs(p)).length === 1, { what: 'the first message' });
    // Wait until nginx has really cut a held poll (504), then go on publishing.
    const px = proxy;
    await waitFor(async () => (await px.accessLog()).some((l) => l.startsWith('504 GET /v1/poll')), { timeoutMs: 20_000, what: 'nginx to cut a poll' });
    for (let i = 2; i <= 6; i++) await app.publish({ to: [u], payload: { text: `m${i}` } });
    await waitFor(async () => (await shownSeqs(p)).length >= 6, { timeoutMs: 20_000, what: 'all six messages' });
    assert.deepEqual(await shownSeqs(p), [1, 2, 3, 4, 5, 6]);
    assert.equal((await transportOf(p)).transport, 'poll');
    // The client learnt the cut: its polls are now held for less than the proxy allows.
    await waitFor(async () => (await px.accessLog()).some((l) => /^200 GET \/v1\/poll\?timeout=1&/.test(l)), { what: 'shorter polls' });
  });

  // nginx 1.22 with only `proxy_buffering on` + `proxy_ignore_headers X-Accel-Buffering` still
  // passes each chunk on as it reads it (it buffers only for slow clients; measured). What really
  // holds an event stream back is compressing it: nginx's gzip ignores `no-transform` and sends
  // nothing, headers included, until a buffer fills or the upstream ends. Corporate proxies that
  // compress or scan everything behave like this.
  const HOSTILE = 'proxy_buffering on; proxy_ignore_headers X-Accel-Buffering; gzip on; gzip_types text/event-stream; gzip_min_length 0;';

  it('the hostile proxy really holds a stream back: nothing of it arrives while the direct stream flows', async () => {
    proxy = await startNginx(app.url, HOSTILE);
    const u = uid();
    const token = await app.token(u);
    const direct = await openSse(app.url, `/v1/stream?since=0&ping=1&access_token=${token}`);
    let bytes = 0;
    const req = http.get(`${proxy.url}/v1/stream?since=0&ping=1&access_token=${token}`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      bytes += 1; // the status line and headers count too
      res.on('data', (c: Buffer) => { bytes += c.length; });
    });
    req.on('error', () => undefined);
    try {
      await waitFor(() => app.service.deps.registry.streamCount === 2, { what: 'both streams to reach the server' });
      await app.publish({ to: [u], payload: { i: 1 } });
      await direct.waitFor((c) => c.messages().length === 1 && c.events.some((e) => e.event === 'ping'));
      await new Promise((r) => setTimeout(r, 2000)); // a bounded look for bytes that must NOT come
      assert.equal(bytes, 0, 'the proxy let the stream through');
    } finally {
      direct.close();
      req.destroy();
    }
  });

  it('behind that proxy the page falls back to long polling by itself and gets everything in order', async () => {
    proxy = await startNginx(app.url, HOSTILE);
    const u = uid();
    b = await launch();
    const p = await b.open(`${proxy.url}/?user=${u}#key=${app.tenant.adminKey}`);
    // Published while the page still tries its stream (held by the proxy): not lost by the switch.
    for (let i = 1; i <= 3; i++) await app.publish({ to: [u], payload: { text: `early ${i}` } });
    await waitFor(async () => {
      const t = await transportOf(p);
      return t.transport === 'poll' && t.connected;
    }, { timeoutMs: 30_000, what: 'the page to fall back to polling' });
    for (let i = 4; i <= 8; i++) await app.publish({ to: [u], payload: { text: `late ${i}` } });
    await waitFor(async () => (await shownSeqs(p)).length >= 8, { timeoutMs: 20_000, what: 'all eight messages' });
    assert.deepEqual(await shownSeqs(p), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(await shownTexts(p), ['early 1', 'early 2', 'early 3', 'late 4', 'late 5', 'late 6', 'late 7', 'late 8']);
    const log = await proxy.accessLog();
    assert.ok(log.some((l) => / GET \/v1\/stream/.test(l)), 'the page tried a stream first');
  });
});
