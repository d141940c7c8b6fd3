// Signal latency: publish (POST /v1/signals sent) -> the `signal` event read from an SSE stream,
// on the same process and across processes (a second `npm start` on the same database, reached
// through LISTEN/NOTIFY). Two real server processes on one embedded PostgreSQL; this process is
// only the client. One signal in flight at a time, N of each kind, interleaved so both see the
// same machine load. `npm run bench:signals` (N, default 500).
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { startServer, embeddedUrl, type BenchServer } from './server.ts';
import { summarize } from './common.ts';

const N = Number(process.env.N ?? 500);

function stream(s: BenchServer, token: string, onSignal: (data: string, at: number) => void): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL('/v1/stream', s.url), { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } }, (res) => {
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        const at = performance.now();
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.includes('event: ready')) resolve(req);
          if (block.startsWith('event: signal\n')) onSignal(block.slice(block.indexOf('data: ') + 6), at);
        }
      });
    });
    req.on('error', reject);
  });
}

async function token(s: BenchServer, user: string): Promise<string> {
  const r = await fetch(new URL('/v1/tokens', s.url), {
    method: 'POST', headers: { authorization: `Bearer ${s.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ user, device: 'bench' }),
  });
  return ((await r.json()) as { token: string }).token;
}

const a = await startServer({ env: { JOBS_ENABLED: 'false', LOG_HTTP: 'false' } });
let b: BenchServer | null = null;
try {
  b = await startServer({ databaseUrl: embeddedUrl(a.dataDir), env: { JOBS_ENABLED: 'false', LOG_HTTP: 'false' } });
  b.key = a.key;
  const pending = new Map<number, (at: number) => void>();
  const onSignal = (data: string, at: number) => {
    const i = (JSON.parse(data) as { payload: { i: number } }).payload.i;
    pending.get(i)?.(at);
    pending.delete(i);
  };
  const local = await stream(a, await token(a, 'near'), onSignal);
  const remote = await stream(b, await token(a, 'far'), onSignal);
  const lat: Record<'same' | 'cross', number[]> = { same: [], cross: [] };
  const ack: number[] = [];
  const send = async (user: string, i: number) => {
    const got = new Promise<number>((r) => pending.set(i, r));
    const t0 = performance.now();
    const r = await fetch(new URL('/v1/signals', a.url), {
      method: 'POST', headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: [user], type: 'typing', payload: { i } }),
    });
    ack.push(performance.now() - t0);
    if (r.status !== 202) throw new Error(`signal ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
    return (await got) - t0;
  };
  for (let i = 0; i < 50; i++) await send(i % 2 ? 'near' : 'far', -1 - i); // warm-up, not counted
  for (let i = 0; i < 2 * N; i++) {
    const kind = i % 2 ? 'same' : 'cross';
    lat[kind].push(await send(kind === 'same' ? 'near' : 'far', i));
  }
  local.destroy();
  remote.destroy();
  const out = { n: N, same: summarize(lat.same), cross: summarize(lat.cross), postTo202: summarize(ack) };
  console.log(JSON.stringify(out, null, 2));
} finally {
  // Stopped even when the second instance failed to start: no server or database left behind.
  await b?.stop();
  await a.stop();
}
