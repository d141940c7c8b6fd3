// publish: as many durable publishes as possible from C concurrent publishers for D seconds; every
// 2xx means committed. catchup: an offline device syncs N waiting messages by paged polls and by
// one stream.
import { ConnPool, Conn, SseConn } from '../client.ts';
import { treeCpuMs, type BenchServer } from '../server.ts';
import { mintTokens, now, round, summarize, type Result } from '../common.ts';

export async function publishThroughput(s: BenchServer, concurrency: number, seconds: number, channels = 100): Promise<Result> {
  const pool = new ConnPool(s.url.hostname, Number(s.url.port), concurrency);
  const auth = { authorization: `Bearer ${s.key}`, 'content-type': 'application/json' };
  const run = Date.now().toString(36);
  const lat: number[] = [];
  let ok = 0;
  let errors = 0;
  let k = 0;
  const cpu0 = treeCpuMs(s.pid);
  const t0 = now();
  const end = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (now() < end) {
      const i = k++;
      const t = now();
      const r = await pool.request('POST', '/v1/messages', auth, JSON.stringify({ to: [`pt${run}-${i % channels}`], type: 'bench', payload: { i }, dedupId: `${run}-${i}` })).catch(() => null);
      if (r && r.status < 300) { ok++; lat.push(now() - t); } else errors++;
    }
  }));
  const elapsed = (now() - t0) / 1000;
  const cpu1 = treeCpuMs(s.pid);
  pool.close();
  // CPU per publish: the Node process alone, and Node + PostgreSQL (the tree), in microseconds.
  const perMsg = (ms: number) => round((ms * 1000) / Math.max(1, ok), 1);
  return {
    scenario: 'publish', concurrency, seconds: round(elapsed), published: ok, errors, msgsPerSec: Math.round(ok / elapsed), latencyMs: summarize(lat),
    cpuUsPerMsg: { node: perMsg(cpu1.node - cpu0.node), nodeAndPostgres: perMsg(cpu1.tree - cpu0.tree) },
  };
}

export async function catchup(s: BenchServer, n: number): Promise<Result> {
  const user = `cu${Date.now().toString(36)}`;
  const pool = new ConnPool(s.url.hostname, Number(s.url.port), 8);
  const auth = { authorization: `Bearer ${s.key}`, 'content-type': 'application/json' };
  for (let i = 0; i < n; i += 500) {
    const messages = Array.from({ length: Math.min(500, n - i) }, (_, j) => ({ to: [user], type: 'bench', payload: { i: i + j } }));
    const r = await pool.request('POST', '/v1/messages/batch', auth, JSON.stringify({ messages }));
    if (r.status !== 200) throw new Error(`batch ${r.status}`);
  }
  pool.close();
  const tokens = await mintTokens(s, [user]);
  const tauth = { authorization: `Bearer ${tokens.get(user)}` };
  const host = s.url.hostname;
  const port = Number(s.url.port);

  // Paged polls (ack=false so that the stream below starts from the same place).
  const c = new Conn(host, port);
  let since = 0;
  let got = 0;
  let inOrder = true;
  const tp = now();
  let requests = 0;
  while (since < n) {
    const r = await c.request('GET', `/v1/poll?since=${since}&limit=1000&timeout=0&ack=false`, tauth);
    requests++;
    const j = JSON.parse(r.body) as { messages: { seq: number }[]; next: number };
    for (const m of j.messages) { if (m.seq !== since + 1) inOrder = false; since = m.seq; got++; }
  }
  const pollMs = now() - tp;
  c.close();

  // One stream from the beginning.
  let sseGot = 0;
  let sseOrder = true;
  const ts = now();
  const sseMs = await new Promise<number>((resolve) => {
    const sc = new SseConn(host, port, '/v1/stream?since=0', tauth, (e) => {
      if (e.event !== 'message') return;
      const seq = Number(e.id);
      if (seq !== sseGot + 1) sseOrder = false;
      sseGot++;
      if (sseGot === n) { sc.close(); resolve(now() - ts); }
    });
  });
  return {
    scenario: 'catchup', n,
    poll: { ms: round(pollMs), requests, complete: got === n, inOrder, msgsPerSec: Math.round(n / (pollMs / 1000)) },
    sse: { ms: round(sseMs), complete: sseGot === n, inOrder: sseOrder, msgsPerSec: Math.round(n / (sseMs / 1000)) },
  };
}
