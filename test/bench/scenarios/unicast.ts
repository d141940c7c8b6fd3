// unicast: W devices wait, each on its own user; a publisher sends R msg/s for D seconds, one per
// user in turn (open loop: latency counts from when a message was due). Measures publish→receive
// latency and checks completeness and order per user. Receivers by long poll or by SSE; the
// publisher may target a second server process (two-instances).
import { Conn, SseConn, ConnPool } from '../client.ts';
import { treeCpuMs, type BenchServer } from '../server.ts';
import { mintTokens, now, round, sleep, summarize, waitHeld, openLoop, type Result } from '../common.ts';

export interface UnicastOptions {
  kind: 'poll' | 'sse';
  waiters: number;
  rate: number;
  seconds: number;
  /** Publish through this server (default: the same). */
  publishVia?: BenchServer;
  label?: string;
}

export async function unicast(s: BenchServer, o: UnicastOptions): Promise<Result> {
  const run = Date.now().toString(36);
  const users = Array.from({ length: o.waiters }, (_, i) => `uc${run}-${i}`);
  const tokens = await mintTokens(s, users);
  const host = s.url.hostname;
  const port = Number(s.url.port);
  const lat: number[] = [];
  const got = new Map<string, number[]>(users.map((u) => [u, []]));
  let dup = 0;
  let disorder = 0;
  const receive = (u: string, seq: number, t: number) => {
    const list = got.get(u)!;
    const last = list.length ? list[list.length - 1]! : 0;
    if (list.includes(seq)) { dup++; return; }
    if (seq < last) disorder++;
    list.push(seq);
    lat.push(now() - t);
  };
  let stopping = false;
  const closers: (() => void)[] = [];
  let ready = 0;
  for (const u of users) {
    const auth = { authorization: `Bearer ${tokens.get(u)}` };
    if (o.kind === 'poll') {
      const c = new Conn(host, port);
      closers.push(() => c.close());
      let first = true;
      void (async () => {
        let since = 0;
        while (!stopping) {
          const p = c.request('GET', `/v1/poll?since=${since}&timeout=25&limit=1000`, auth);
          if (first) { first = false; ready++; }
          const r = await p.catch(() => null);
          if (!r || r.status !== 200) { if (!stopping) await sleep(100); continue; }
          const j = JSON.parse(r.body) as { messages: { seq: number; payload: { t: number } }[]; next: number };
          for (const m of j.messages) receive(u, m.seq, m.payload.t);
          since = j.next;
        }
      })();
    } else {
      const c = new SseConn(host, port, '/v1/stream?since=0', auth, (e) => {
        if (e.event === 'ready') { ready++; return; }
        if (e.event !== 'message') return;
        const m = JSON.parse(e.data) as { seq: number; payload: { t: number } };
        receive(u, m.seq, m.payload.t);
      });
      closers.push(() => c.close());
    }
  }
  while (ready < o.waiters) await sleep(50);
  await waitHeld(s, o.kind === 'poll' ? 'poll' : 'stream', o.waiters);
  await sleep(500);

  const via = o.publishVia ?? s;
  const pool = new ConnPool(via.url.hostname, Number(via.url.port), 64);
  const auth = { authorization: `Bearer ${s.key}`, 'content-type': 'application/json' };
  const total = o.rate * o.seconds;
  let sent = 0;
  let errors = 0;
  // Due time to the publish's 2xx (its COMMIT): delivery cannot come sooner, so the gap between the
  // two distributions is what delivery itself costs.
  const commitLat: number[] = [];
  // Server CPU from the first publish to the last delivery: publishing and delivering together.
  const cpu0 = treeCpuMs(s.pid);
  const viaCpu0 = o.publishVia ? treeCpuMs(o.publishVia.pid).node : 0;
  await openLoop(total, o.rate, (k, t) => pool.request('POST', '/v1/messages', auth, JSON.stringify({ to: [users[k % users.length]!], type: 'bench', payload: { t, k } }))
    .then((r) => { if (r.status < 300) { sent++; commitLat.push(now() - t); } else errors++; }, () => { errors++; }));
  const deadline = Date.now() + 10_000;
  const count = () => [...got.values()].reduce((a, l) => a + l.length, 0);
  while (count() < sent && Date.now() < deadline) await sleep(10);
  const cpu1 = treeCpuMs(s.pid);
  const received = count();
  const viaCpu = o.publishVia ? treeCpuMs(o.publishVia.pid).node - viaCpu0 : 0;
  stopping = true;
  for (const c of closers) c();
  pool.close();
  return {
    scenario: o.label ?? `unicast-${o.kind}`, waiters: o.waiters, rate: o.rate, seconds: o.seconds,
    published: sent, publishErrors: errors, received, lost: sent - received, duplicated: dup, outOfOrder: disorder,
    latencyMs: summarize(lat), publishAnsweredMs: summarize(commitLat),
    // Per message published and delivered: the Node process(es), and with PostgreSQL (USER_HZ ticks: ±10 ms in all).
    cpuUsPerMsg: {
      node: round(((cpu1.node - cpu0.node + viaCpu) * 1000) / Math.max(1, received), 1),
      nodeAndPostgres: round(((cpu1.tree - cpu0.tree + viaCpu) * 1000) / Math.max(1, received), 1),
    },
  };
}
