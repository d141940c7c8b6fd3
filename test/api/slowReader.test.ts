// A stream whose client stops reading must not grow the server's memory: the server stops writing
// when the socket is full, cuts the stream after STREAM_SLOW_CLOSE_MS, and the client resumes from
// its cursor without losing anything. The server is a real second process so that its RSS is its own.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import pg from 'pg';
import { spawnServer, type ServerProcess } from '../helpers/spawn.ts';
import { testDb } from '../helpers/db.ts';
import { uid } from '../helpers/app.ts';
import { openSse } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';
import { createTenant } from '../../app/services/credentials.ts';

async function rssBytes(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await fs.readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Seqs of the `message` events in raw SSE text. */
function seqsIn(raw: string): number[] {
  return [...raw.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
}

describe('slow readers', () => {
  let server: ServerProcess;
  let db: pg.Pool;
  before(async () => {
    db = new pg.Pool({ connectionString: testDb().url, max: 2 });
    server = await spawnServer({
      DATABASE_URL: testDb().url, JOBS_ENABLED: 'false', STREAM_SLOW_CLOSE_MS: '3000', LOG_LEVEL: 'info', NODE_OPTIONS: '--max-old-space-size=96',
    });
  });
  after(async () => {
    await server?.stop();
    await db?.end();
  });

  it('a client that never reads: bounded server memory, the stream is closed, resuming from the cursor gets everything', async function () {
    this.timeout(180_000);
    const t = await createTenant(db, uid('t'), 86400);
    const key = t!.adminKey;
    const api = (path: string, body: unknown) => fetch(server.url + path, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const u = uid();
    const token = (await (await api('/v1/tokens', { user: u })).json()).token as string;

    // Warm up with the same traffic to other users (JIT, pools, the body cache, the heap's size under
    // this load), so that the baseline is the server at work and the growth is the stream's alone.
    for (let i = 0; i < 60; i++) await api('/v1/messages/batch', { messages: Array.from({ length: 20 }, () => ({ to: [uid()], payload: { blob: 'w'.repeat(60_000) } })) });
    const baseline = await rssBytes(server.pid);

    // A raw client: sends the request, then never reads.
    const { hostname, port } = new URL(server.url);
    const socket = net.connect(Number(port), hostname);
    await new Promise((r) => socket.once('connect', r));
    socket.pause();
    if (!process.env.NOSTREAM) socket.write(`GET /v1/stream?since=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`);

    let peak = baseline;
    const sampler = setInterval(() => { rssBytes(server.pid).then((r) => { peak = Math.max(peak, r); }, () => undefined); }, 100);
    const N = 2000;
    const size = 60_000;
    let published = 0;
    try {
      for (let b = 0; b < N / 20; b++) {
        const r = await api('/v1/messages/batch', { messages: Array.from({ length: 20 }, (_, i) => ({ to: [u], payload: { i: b * 20 + i, blob: 'x'.repeat(size) } })) });
        assert.equal(r.status, 200);
        published += 20;
      }
      if (process.env.NOSTREAM) console.log('peak growth', (peak - baseline) / 1e6);
      await waitFor(() => /slow reader: stream closed/.test(server.output()), { timeoutMs: 60_000, what: 'the server to close the slow stream' });
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - baseline;
    const sent = published * size;
    console.log(`      published ${(sent / 1e6).toFixed(0)} MB to a non-reading stream; server RSS ${(baseline / 1e6).toFixed(0)} MB -> peak ${(peak / 1e6).toFixed(0)} MB (+${(growth / 1e6).toFixed(0)} MB)`);
    assert.ok(growth < sent / 3, `server RSS grew by ${growth} bytes for ${sent} bytes published`);

    // The client wakes up: it gets what was in flight, then the end of the stream.
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => { raw += d; });
    const ended = new Promise((r) => socket.once('close', r));
    socket.on('error', () => undefined);
    socket.resume();
    await ended;
    const got = seqsIn(raw);
    assert.ok(got.length < N, 'the stream was cut before it carried everything');
    got.forEach((s, i) => assert.equal(s, i + 1, 'what arrived is in order with no gap'));
    const cursor = got.length ? got[got.length - 1]! : 0;

    const resumed = await openSse(server.url, '/v1/stream', { authorization: `Bearer ${token}`, 'last-event-id': String(cursor) });
    await resumed.waitFor((c) => c.events.filter((e) => e.event === 'message').length === N - cursor, 60_000).catch((e) => {
      const ids = resumed.events.map((x) => `${x.event}:${x.id}`);
      console.log('cursor', cursor, 'first', ids.slice(0, 3), 'last', ids.slice(-3), 'raw tail', JSON.stringify(resumed.raw.slice(-300)));
      throw e;
    });
    const rest = resumed.events.filter((e) => e.event === 'message').map((e) => Number(e.id));
    rest.forEach((s, i) => assert.equal(s, cursor + i + 1));
    resumed.close();
    console.log(`      the first connection carried ${cursor} messages; the resumed one the other ${N - cursor}`);
  });
});
