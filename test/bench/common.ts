// Shared by the benchmark scenarios: clock, percentiles, token minting, publishing.
import { performance } from 'node:perf_hooks';
import { ConnPool } from './client.ts';
import type { BenchServer } from './server.ts';

export const now = () => performance.timeOrigin + performance.now();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export interface Summary { n: number; p50: number; p90: number; p99: number; max: number }

/**
 * Open loop: calls `send(k, t)` for k = 0..count-1 at `rate` a second, each when due, without
 * waiting for earlier ones; `t` is when the message was due, or when it left if that was earlier
 * (sleeps are not finer than 1 ms), so latency counts from there. Resolves when every send has.
 */
export async function openLoop(count: number, rate: number, send: (k: number, t: number) => Promise<unknown>): Promise<void> {
  const t0 = now();
  const inflight: Promise<unknown>[] = [];
  for (let k = 0; k < count; k++) {
    const due = t0 + (k * 1000) / rate;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    inflight.push(send(k, Math.min(due, now())));
  }
  await Promise.all(inflight);
}

export function summarize(values: number[]): Summary {
  if (!values.length) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN };
  const a = Float64Array.from(values).sort();
  const q = (p: number) => a[Math.min(a.length - 1, Math.max(0, Math.ceil(p * a.length) - 1))]!;
  return { n: a.length, p50: round(q(0.5)), p90: round(q(0.9)), p99: round(q(0.99)), max: round(a[a.length - 1]!) };
}

export function apiPool(s: BenchServer, size = 32): ConnPool {
  return new ConnPool(s.url.hostname, Number(s.url.port), size);
}

/** Client tokens for users (device "bench"), minted before anything is measured. */
export async function mintTokens(s: BenchServer, users: string[], device = 'bench'): Promise<Map<string, string>> {
  const pool = apiPool(s, 32);
  const out = new Map<string, string>();
  const auth = { authorization: `Bearer ${s.key}`, 'content-type': 'application/json' };
  let i = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (i < users.length) {
      const u = users[i++]!;
      const r = await pool.request('POST', '/v1/tokens', auth, JSON.stringify({ user: u, device, ttlSeconds: 3600 }));
      if (r.status !== 201) throw new Error(`token ${r.status} ${r.body}`);
      out.set(u, JSON.parse(r.body).token);
    }
  }));
  pool.close();
  return out;
}

/**
 * Waits until the server holds `n` polls or streams (its /metrics gauge): measuring starts with
 * every waiter registered, not while the first ones are still being opened.
 */
export async function waitHeld(s: BenchServer, transport: 'poll' | 'stream', n: number, timeoutMs = 60_000): Promise<void> {
  const pool = apiPool(s, 1);
  const re = new RegExp(`^mailslot_held_connections\\{transport="${transport}"\\} (\\d+)`, 'm');
  try {
    for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(100)) {
      const r = await pool.request('GET', '/metrics', { authorization: `Bearer ${s.key}` });
      const m = re.exec(r.body);
      if (r.status !== 200 || !m) throw new Error(`/metrics ${r.status}: no held ${transport} gauge`);
      if (Number(m[1]) >= n) return;
    }
    throw new Error(`the server never held ${n} ${transport}s`);
  } finally {
    pool.close();
  }
}

export async function publish(pool: ConnPool, key: string, body: object): Promise<number> {
  const r = await pool.request('POST', '/v1/messages', { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, JSON.stringify(body));
  if (r.status >= 300) throw new Error(`publish ${r.status} ${r.body}`);
  return r.status;
}

export interface Result {
  scenario: string;
  [k: string]: unknown;
}
