// fanout: S SSE clients, all members of one group; M group messages at R/s. Latency from when a
// message was due to its arrival at each subscriber; completeness and order per subscriber.
import { SseConn, ConnPool } from '../client.ts';
import { treeCpuMs, type BenchServer } from '../server.ts';
import { mintTokens, now, round, sleep, summarize, openLoop, type Result } from '../common.ts';

export async function fanout(s: BenchServer, subscribers: number, messages: number, rate: number): Promise<Result> {
  const run = Date.now().toString(36);
  const group = `fan${run}`;
  const members = Array.from({ length: subscribers }, (_, i) => `${group}.m${i}`);
  const pool = new ConnPool(s.url.hostname, Number(s.url.port), 16);
  const auth = { authorization: `Bearer ${s.key}`, 'content-type': 'application/json' };
  const g = await pool.request('PUT', `/v1/groups/${group}`, auth, JSON.stringify({ members }));
  if (g.status >= 300) throw new Error(`group ${g.status} ${g.body}`);
  const tokens = await mintTokens(s, members);
  const lat: number[] = [];
  const got = new Map<string, number[]>(members.map((m) => [m, []]));
  let ready = 0;
  const conns = members.map((m) => new SseConn(s.url.hostname, Number(s.url.port), '/v1/stream?since=0', { authorization: `Bearer ${tokens.get(m)}` }, (e) => {
    if (e.event === 'ready') { ready++; return; }
    if (e.event !== 'message') return;
    const msg = JSON.parse(e.data) as { payload: { t: number; j: number } };
    got.get(m)!.push(msg.payload.j);
    lat.push(now() - msg.payload.t);
  }));
  while (ready < subscribers) await sleep(50);
  // Every publisher connection open before the first publish: a request on a connection opened
  // mid-run waits for the server to accept it and can reach it after a later request sent on an
  // open one; the server stores publishes in the order they reach it.
  await Promise.all(Array.from({ length: 16 }, () => pool.request('GET', '/healthz', {})));
  await sleep(300);
  const pubLat: number[] = [];
  const cpu0 = treeCpuMs(s.pid);
  let errors = 0;
  await openLoop(messages, rate, (j, t) => pool.request('POST', '/v1/messages', auth, JSON.stringify({ group, type: 'bench', payload: { t, j } }))
    .then((r) => { if (r.status >= 300) errors++; pubLat.push(now() - t); }, () => { errors++; }));
  const deadline = Date.now() + 15_000;
  const total = () => [...got.values()].reduce((a, l) => a + l.length, 0);
  while (total() < subscribers * messages && Date.now() < deadline) await sleep(50);
  const cpu1 = treeCpuMs(s.pid);
  for (const c of conns) c.close();
  pool.close();
  const complete = [...got.values()].filter((l) => l.length === messages).length;
  const ordered = [...got.values()].filter((l) => l.every((v, i) => v === i)).length;
  return {
    scenario: 'fanout', subscribers, messages, rate, publishErrors: errors,
    delivered: total(), expected: subscribers * messages, subscribersComplete: complete, subscribersInOrder: ordered,
    latencyMs: summarize(lat), publishLatencyMs: summarize(pubLat),
    // Server CPU per group message (each reaching every subscriber): Node alone, Node + PostgreSQL.
    cpuMsPerMsg: { node: round((cpu1.node - cpu0.node) / messages, 1), nodeAndPostgres: round((cpu1.tree - cpu0.tree) / messages, 1) },
  };
}
