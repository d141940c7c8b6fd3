// HTTP timeouts that fit long polling: slow heads (slowloris), slow bodies and idle keep-alive
// sockets are dropped; held polls and streams are not. Raw sockets, because an HTTP client library
// would never send a request this badly.
import assert from 'node:assert/strict';
import net from 'node:net';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { openSse } from '../helpers/sse.ts';

interface Raw {
  socket: net.Socket;
  received: () => string;
  closed: Promise<number>;
}

/** A raw connection; `closed` resolves with the time the server closed it. */
function connect(url: string): Promise<Raw> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => resolve({ socket, received: () => data, closed }));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => { data += d; });
    socket.on('error', () => undefined); // a reset is one way of being dropped
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
    socket.once('error', reject);
  });
}

describe('HTTP timeouts and limits', () => {
  let app: TestApp;
  before(async () => {
    app = await startApp({
      HTTP_HEADERS_TIMEOUT_MS: '3000', HTTP_REQUEST_TIMEOUT_MS: '4000', HTTP_KEEPALIVE_TIMEOUT_MS: '1000', HTTP_MAX_HEADER_BYTES: '8192',
    });
  });
  after(async () => { await app.close(); });

  it('slowloris: a head sent one byte a second is dropped after the head timeout, while a 30 s poll and a stream live on', async function () {
    this.timeout(90_000);
    const u = uid();
    const t = await app.token(u, { device: 'poller' });
    const ts = await app.token(u, { device: 'streamer' });
    const started = Date.now();
    const poll = app.http.get('/v1/poll?since=0&timeout=30').set('Authorization', `Bearer ${t}`).then((r) => ({ r, at: Date.now() }));
    const stream = await openSse(app.url, '/v1/stream?since=0', { authorization: `Bearer ${ts}` });

    const loris = await connect(app.url);
    const head = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(200)}\r\n`;
    let sent = 0;
    const drip = setInterval(() => { if (!loris.socket.destroyed && sent < head.length) loris.socket.write(head[sent++]!); }, 1000);
    const lorisClosedAt = await loris.closed;
    clearInterval(drip);
    assert.ok(sent < head.length, 'the server cut the head before it was complete');
    assert.ok(lorisClosedAt - started < 30_000, 'dropped long before the poll ends');
    assert.ok(loris.received() === '' || /^HTTP\/1\.1 408/.test(loris.received()), `got: ${loris.received().slice(0, 80)}`);

    const { r, at } = await poll;
    assert.equal(r.status, 200, 'the held poll was not cut');
    assert.deepEqual(r.body.messages, []);
    assert.ok(at - started >= 29_000, 'it was held its full 30 s');
    assert.ok(!stream.closed, 'the stream is still open after far longer than any request timeout');
    await app.publish({ to: [u], payload: { late: true } });
    await stream.waitFor((c) => c.messages().length === 1);
    stream.close();
  });

  it('a connection that sends nothing is dropped after the head timeout', async () => {
    const idle = await connect(app.url);
    const t0 = Date.now();
    const at = await idle.closed;
    assert.ok(at - t0 < 15_000);
  });

  it('a body sent too slowly is dropped after the request timeout (408), the server stays fine', async () => {
    const c = await connect(app.url);
    c.socket.write(`POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${app.tenant.adminKey}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"to":`);
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 408/);
    assert.equal((await app.http.get('/healthz')).status, 200);
  });

  it('an idle keep-alive socket is closed after the keep-alive timeout', async () => {
    const c = await connect(app.url);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 200/);
    assert.match(c.received(), /Keep-Alive: timeout=1/);
  });

  it('a head larger than HTTP_MAX_HEADER_BYTES is 431', async () => {
    const c = await connect(app.url);
    c.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9000)}\r\n\r\n`);
    await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 431/);
    assert.equal((await app.http.get('/healthz')).status, 200);
  });
});
