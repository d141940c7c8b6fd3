// floor: what this machine allows at best, measured with the same clients, so that each mailslot
// figure can be read as a ratio to it rather than only against Nchan's in-memory numbers:
//   http    a bare node:http process answering POSTs (no auth, no validation, nothing stored):
//           the most requests/s one Node process serves here beside the client;
//   commit  the embedded PostgreSQL alone: a one-row durable INSERT per transaction, one client in
//           a row (the latency no durable delivery can beat) and 32 at once (commits/s with
//           PostgreSQL's own group commit);
//   unicast the bare process holding 1,000 long polls or streams, one per user, answering each
//           POSTed message from memory (the latency of HTTP alone at the same rate);
//   fanout  the bare process holding 1,000 SSE streams and writing each POSTed message to all of
//           them from memory (the latency of 1,000 socket writes and the client reading them).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Conn, ConnPool, SseConn } from '../client.ts';
import { embeddedUrl, treeCpuMs, type BenchServer } from '../server.ts';
import { now, round, sleep, summarize, openLoop, type Result } from '../common.ts';

const BARE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bareServer.ts');

interface Bare { port: number; pid: number; stop(): Promise<void> }

async function startBare(): Promise<Bare> {
  const child = spawn(process.execPath, ['--import', 'tsx', BARE], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (c) => reject(new Error(`bare server exited ${c}`)));
  });
  return { port, pid: child.pid!, async stop() { child.kill('SIGTERM'); await exited; } };
}

export async function floorHttp(concurrency: number, seconds: number): Promise<Result> {
  const bare = await startBare();
  const pool = new ConnPool('127.0.0.1', bare.port, concurrency);
  const headers = { 'content-type': 'application/json' };
  const lat: number[] = [];
  let ok = 0;
  let k = 0;
  const cpu0 = treeCpuMs(bare.pid);
  const t0 = now();
  const end = t0 + seconds * 1000;
  try {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (now() < end) {
        const i = k++;
        const t = now();
        const r = await pool.request('POST', '/publish', headers, JSON.stringify({ to: [`u${i % 100}`], type: 'bench', payload: { i } }));
        if (r.status === 201) { ok++; lat.push(now() - t); }
      }
    }));
  } finally {
    pool.close();
  }
  const elapsed = (now() - t0) / 1000;
  const cpu = treeCpuMs(bare.pid).node - cpu0.node;
  await bare.stop();
  return { scenario: 'floor-http', concurrency, requestsPerSec: Math.round(ok / elapsed), latencyMs: summarize(lat), cpuUsPerRequest: round((cpu * 1000) / Math.max(1, ok), 1) };
}

export async function floorCommit(s: BenchServer, concurrency: number, seconds: number): Promise<Result> {
  const url = embeddedUrl(s.dataDir);
  const table = `bench_floor_${Date.now().toString(36)}`;
  const clients = await Promise.all(Array.from({ length: concurrency }, async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    return c;
  }));
  const insert = { name: 'floor', text: `INSERT INTO ${table} (body) VALUES ($1::jsonb)`, values: ['{"i":0}'] };
  try {
    await clients[0]!.query(`CREATE TABLE ${table} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body jsonb NOT NULL)`);
    // One client, one commit at a time: the latency of a durable write here.
    const one: number[] = [];
    const endOne = now() + (seconds * 1000) / 2;
    while (now() < endOne) {
      const t = now();
      await clients[0]!.query(insert);
      one.push(now() - t);
    }
    // Many at once: PostgreSQL shares WAL flushes between concurrent commits by itself.
    let ok = 0;
    const t0 = now();
    const end = t0 + seconds * 1000;
    await Promise.all(clients.map(async (c) => {
      while (now() < end) {
        await c.query(insert);
        ok++;
      }
    }));
    const elapsed = (now() - t0) / 1000;
    return { scenario: 'floor-commit', commitMs: summarize(one), concurrency, commitsPerSec: Math.round(ok / elapsed) };
  } finally {
    await clients[0]!.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await Promise.all(clients.map((c) => c.end()));
  }
}

export async function floorFanout(subscribers: number, messages: number, rate: number): Promise<Result> {
  const bare = await startBare();
  const lat: number[] = [];
  const got: number[][] = Array.from({ length: subscribers }, () => []);
  let ready = 0;
  const conns = got.map((list) => new SseConn('127.0.0.1', bare.port, '/stream', {}, (e) => {
    if (e.event === 'ready') { ready++; return; }
    const msg = JSON.parse(e.data) as { payload: { t: number; j: number } };
    list.push(msg.payload.j);
    lat.push(now() - msg.payload.t);
  }));
  const pool = new ConnPool('127.0.0.1', bare.port, 4);
  let cpuMsPerMsg = NaN;
  try {
    while (ready < subscribers) await sleep(50);
    await sleep(300);
    const cpu0 = treeCpuMs(bare.pid).node;
    await openLoop(messages, rate, (j, t) => pool.request('POST', '/publish', { 'content-type': 'application/json' }, JSON.stringify({ t, j })));
    const deadline = Date.now() + 15_000;
    while (lat.length < subscribers * messages && Date.now() < deadline) await sleep(50);
    cpuMsPerMsg = round((treeCpuMs(bare.pid).node - cpu0) / messages, 1);
  } finally {
    for (const c of conns) c.close();
    pool.close();
    await bare.stop();
  }
  const complete = got.filter((l) => l.length === messages && l.every((v, i) => v === i)).length;
  return { scenario: 'floor-fanout', subscribers, messages, rate, latencyMs: summarize(lat), delivered: lat.length, expected: subscribers * messages, subscribersComplete: complete, cpuMsPerMsg };
}

export async function floorUnicast(kind: 'poll' | 'sse', waiters: number, rate: number, seconds: number): Promise<Result> {
  const bare = await startBare();
  const users = Array.from({ length: waiters }, (_, i) => `u${i}`);
  const lat: number[] = [];
  const seen = new Set<number>();
  const receive = (m: { payload: { t: number; k: number } }) => {
    seen.add(m.payload.k);
    lat.push(now() - m.payload.t);
  };
  let stopping = false;
  let ready = 0;
  const closers: (() => void)[] = [];
  for (const u of users) {
    if (kind === 'poll') {
      const c = new Conn('127.0.0.1', bare.port);
      closers.push(() => c.close());
      void (async () => {
        let first = true;
        while (!stopping) {
          const p = c.request('GET', `/poll?u=${u}`, {});
          if (first) { first = false; ready++; }
          const r = await p.catch(() => null);
          if (r?.status === 200) for (const m of (JSON.parse(r.body) as { messages: { payload: { t: number; k: number } }[] }).messages) receive(m);
          else if (!stopping && r?.status !== 204) await sleep(100);
        }
      })();
    } else {
      const c = new SseConn('127.0.0.1', bare.port, `/stream?u=${u}`, {}, (e) => {
        if (e.event === 'ready') ready++;
        else receive(JSON.parse(e.data) as { payload: { t: number; k: number } });
      });
      closers.push(() => c.close());
    }
  }
  const pool = new ConnPool('127.0.0.1', bare.port, 64);
  let sent = 0;
  let cpuUsPerMsg = NaN;
  try {
    while (ready < waiters) await sleep(50);
    await sleep(1000);
    const cpu0 = treeCpuMs(bare.pid).node;
    await openLoop(rate * seconds, rate, (k, t) => pool.request('POST', '/publish', { 'content-type': 'application/json' }, JSON.stringify({ to: [users[k % waiters]], type: 'bench', payload: { t, k } }))
      .then((r) => { if (r.status === 201) sent++; }, () => undefined));
    const deadline = Date.now() + 10_000;
    while (seen.size < sent && Date.now() < deadline) await sleep(10);
    cpuUsPerMsg = round(((treeCpuMs(bare.pid).node - cpu0) * 1000) / Math.max(1, seen.size), 1);
  } finally {
    stopping = true;
    for (const c of closers) c();
    pool.close();
    await bare.stop();
  }
  return { scenario: `floor-unicast-${kind}`, waiters, rate, seconds, published: sent, received: seen.size, lost: sent - seen.size, latencyMs: summarize(lat), cpuUsPerMsg };
}
