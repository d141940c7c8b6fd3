// A stream's response head is freed once sent (openSse), and the response still behaves: headers
// count as sent, later writes are chunks, and the end is a proper chunked end.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { openSse } from '../../app/http/sse.ts';
import type { Call } from '../../app/http/call.ts';

describe('SSE response head', () => {
  it('is kept as a one-character stand-in after it is sent; the stream still writes and ends correctly', async () => {
    const checks: unknown[] = [];
    const server = http.createServer((req, res) => {
      const call: Call = { req, res, id: 'rid-1', route: '/v1/stream', query: {}, t0: 0, cors: [], security: ['X-Content-Type-Options', 'nosniff', 'X-Long', 'x'.repeat(600)] };
      openSse(call, { retryMs: 1500, padding: false });
      checks.push(res.headersSent, (res as unknown as { _header: string })._header);
      assert.throws(() => res.setHeader('X-Late', '1'), /ERR_HTTP_HEADERS_SENT|Cannot set headers/);
      res.write('event: ready\ndata: {}\n\n');
      setTimeout(() => res.end(), 20);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const raw = await new Promise<string>((resolve, reject) => {
      let got = '';
      const s = net.connect(port, '127.0.0.1', () => s.write('GET /v1/stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      s.setEncoding('latin1');
      // The stream asks for keep-alive: the terminating chunk, not the socket's end, marks the end.
      s.on('data', (d: string) => {
        got += d;
        if (got.endsWith('\r\n0\r\n\r\n')) { s.destroy(); resolve(got); }
      });
      s.on('error', reject);
    });
    server.close();
    assert.deepEqual(checks, [true, ' ']);
    const [headText, body] = raw.split('\r\n\r\n', 2) as [string, string];
    assert.match(headText, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(headText, /\r\nX-Request-Id: rid-1\r\n/);
    assert.match(headText, /\r\nX-Long: x{600}\r\n/);
    assert.match(headText, /\r\nTransfer-Encoding: chunked/);
    // De-chunk the body: the prelude, the event, then the terminating zero-length chunk.
    let rest = raw.slice(headText.length + 4);
    let text = '';
    for (;;) {
      const nl = rest.indexOf('\r\n');
      const size = parseInt(rest.slice(0, nl), 16);
      if (size === 0) break;
      text += rest.slice(nl + 2, nl + 2 + size);
      rest = rest.slice(nl + 2 + size + 2);
    }
    assert.equal(text, 'retry: 1500\n\nevent: ready\ndata: {}\n\n');
    assert.ok(body.length > 0);
  });
});
