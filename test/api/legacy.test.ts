// HTTP/1.0 clients over a raw socket: no chunked encoding exists there, so a stream is
// close-delimited (no Content-Length, no Transfer-Encoding, ends when the server closes), and a
// poll answers with a Content-Length.
import assert from 'node:assert/strict';
import net from 'node:net';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';

interface Raw {
  text: () => string;
  ended: () => boolean;
  close: () => void;
}

function rawRequest(url: string, lines: string[]): Raw {
  const u = new URL(url);
  let text = '';
  let ended = false;
  const s = net.connect(Number(u.port), u.hostname, () => s.write(lines.join('\r\n') + '\r\n\r\n'));
  s.setEncoding('latin1');
  s.on('data', (c: string) => { text += c; });
  s.on('end', () => { ended = true; });
  s.on('close', () => { ended = true; });
  s.on('error', () => { ended = true; });
  return { text: () => text, ended: () => ended, close: () => s.destroy() };
}

function split(raw: string): { status: string; headers: Record<string, string>; body: string } {
  const i = raw.indexOf('\r\n\r\n');
  const [status, ...lines] = raw.slice(0, i).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
  return { status: status!, headers, body: raw.slice(i + 4) };
}

describe('HTTP/1.0 clients (raw socket)', () => {
  let app: TestApp;
  // A short stream lifetime: the server ends the stream and so delimits its body by closing.
  before(async () => { app = await startApp({ STREAM_MAX_LIFETIME_S: '3' }); });
  after(async () => { await app.close(); });

  it('reads a stream: close-delimited, no chunk framing, live events, ends when the server closes it', async () => {
    const u = uid();
    const token = await app.token(u);
    await app.publish({ to: [u], payload: { n: 1 } });
    const r = rawRequest(app.url, [`GET /v1/stream?since=0&access_token=${token} HTTP/1.0`, 'Host: 127.0.0.1', 'Accept: text/event-stream']);
    try {
      await waitFor(() => r.text().includes('id: 1\n'), { what: 'the replayed message' });
      await app.publish({ to: [u], payload: { n: 2 } });
      await waitFor(() => r.text().includes('id: 2\n'), { what: 'the live message' });
      const { status, headers, body } = split(r.text());
      assert.match(status, /^HTTP\/1\.[01] 200 /);
      assert.equal(headers['transfer-encoding'], undefined, 'no chunked encoding for HTTP/1.0');
      assert.equal(headers['content-length'], undefined);
      assert.equal(headers['connection']?.toLowerCase(), 'close');
      assert.equal(headers['x-accel-buffering'], 'no');
      assert.equal(headers['cache-control'], 'no-cache, no-transform');
      // The body is the event stream itself: it starts with the prelude, not with a chunk size.
      assert.ok(body.startsWith('retry: '), JSON.stringify(body.slice(0, 40)));
      assert.match(body, /event: ready\ndata: \{"since":0,"head":1\}\n\n/);
      const seqs = [...body.matchAll(/^data: (\{"seq".*)$/gm)].map((m) => JSON.parse(m[1]!).seq);
      assert.deepEqual(seqs, [1, 2]);
      // At its lifetime the server closes the connection: that is the end of the body.
      await waitFor(() => r.ended(), { timeoutMs: 10_000, what: 'the server to close the stream' });
    } finally {
      r.close();
    }
  });

  it('long-polls: the held poll answers with a Content-Length body and closes', async () => {
    const u = uid();
    const token = await app.token(u);
    const r = rawRequest(app.url, ['GET /v1/poll?since=0&timeout=20 HTTP/1.0', 'Host: 127.0.0.1', `Authorization: Bearer ${token}`]);
    try {
      await waitFor(() => app.service.deps.registry.polls === 1, { what: 'the poll to be held' });
      await app.publish({ to: [u], payload: { old: 'client' } });
      await waitFor(() => r.ended(), { what: 'the poll to answer and close' });
      const { status, headers, body } = split(r.text());
      assert.match(status, /^HTTP\/1\.[01] 200 /);
      assert.equal(headers['transfer-encoding'], undefined);
      assert.equal(Number(headers['content-length']), Buffer.byteLength(body));
      const json = JSON.parse(body);
      assert.deepEqual(json.messages.map((m: { payload: unknown }) => m.payload), [{ old: 'client' }]);
      assert.equal(json.next, 1);
    } finally {
      r.close();
    }
  });
});
