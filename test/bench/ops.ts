// The cost of request logging and metrics on publish throughput, measured in one run: two
// services on one database, one with logs + metrics + delivery record on, one with all three off,
// loaded in alternating short slices by CONCURRENCY clients publishing over keep-alive HTTP. Logs
// go through pino's JSON serialisation to /dev/null, so their whole CPU cost is paid.
// `npm run bench:ops` (SLICES, SLICE_MS, CONCURRENCY, ONLY=logs|metrics).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../app/config.ts';
import { startService } from '../../app/service.ts';
import { startEmbedded } from '../../db/embedded.ts';
import { migrate } from '../../db/migrate.ts';
import { createTenant } from '../../app/services/credentials.ts';

const SLICES = Number(process.env.SLICES ?? 20);
const SLICE_MS = Number(process.env.SLICE_MS ?? 1000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
/** `logs` or `metrics` switches only that one on in the ON service (to see where a cost comes from). */
const ONLY = process.env.ONLY ?? '';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mailslot-bench-'));
await fs.chmod(dir, 0o755);
const db = await startEmbedded({ dir, postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off'] });
await migrate(db.url);

async function start(on: boolean) {
  const config = loadConfig({
    DATABASE_URL: db.url, PORT: '0', JOBS_ENABLED: 'false', MAILSLOT_DEMO: 'false',
    LOG_HTTP: String(on && ONLY !== 'metrics'), METRICS_ENABLED: String(on && ONLY !== 'logs'), DELIVERY_LOG: String(on && ONLY === ''),
  });
  const log = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }));
  const service = await startService(config, log);
  const t = await createTenant(service.deps.db, `bench${on ? 'on' : 'off'}${process.pid}`, 3600);
  return { service, headers: { Authorization: `Bearer ${t!.adminKey}`, 'Content-Type': 'application/json' } };
}

const cpuUs: Record<'on' | 'off', number[]> = { on: [], off: [] };

/**
 * Publishes per second during one slice against one service; also records this process's CPU
 * time per publish (server and load generator share the process, so only the difference between
 * the two sides means something — and it is far steadier than throughput on a shared machine).
 */
async function slice(target: Awaited<ReturnType<typeof start>>, which?: 'on' | 'off'): Promise<number> {
  const end = Date.now() + SLICE_MS;
  const cpu0 = process.cpuUsage();
  let done = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, c) => {
    let i = 0;
    while (Date.now() < end) {
      const r = await fetch(`${target.service.url}/v1/messages`, {
        method: 'POST', headers: target.headers, body: JSON.stringify({ to: [`u${c}`, `u${(c + 1) % CONCURRENCY}`], payload: { i: i++ } }),
      });
      await r.arrayBuffer();
      if (r.status !== 201) throw new Error(`publish: ${r.status}`);
      done++;
    }
  }));
  const cpu = process.cpuUsage(cpu0);
  if (which) cpuUs[which].push((cpu.user + cpu.system) / done);
  return done / (SLICE_MS / 1000);
}

// Both services stay up; slices alternate between them (order flipped every pair), so a noisy
// neighbour or a checkpoint hits both sides alike. The first pair warms up and is not counted.
const on = await start(true);
const off = await start(false);
await slice(on);
await slice(off);
const rates = { on: [] as number[], off: [] as number[] };
for (let n = 0; n < SLICES; n++) {
  for (const which of n % 2 ? ['off', 'on'] as const : ['on', 'off'] as const) rates[which].push(await slice(which === 'on' ? on : off, which));
}
await on.service.close();
await off.service.close();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const what = ONLY ? `${ONLY} only` : 'logs + metrics + delivery record';
console.log(`ON (${what}):  median ${median(rates.on).toFixed(0)}/s, mean ${mean(rates.on).toFixed(0)}/s`);
console.log(`OFF:  median ${median(rates.off).toFixed(0)}/s, mean ${mean(rates.off).toFixed(0)}/s`);
console.log(`cost: ${((1 - median(rates.on) / median(rates.off)) * 100).toFixed(1)}% (median), ${((1 - mean(rates.on) / mean(rates.off)) * 100).toFixed(1)}% (mean); `
  + `${SLICES} alternating ${SLICE_MS} ms slices each, ${CONCURRENCY} concurrent publishers, 2 recipients per message`);
console.log(`CPU per publish: ON median ${median(cpuUs.on).toFixed(0)} µs, OFF median ${median(cpuUs.off).toFixed(0)} µs, `
  + `difference ${(median(cpuUs.on) - median(cpuUs.off)).toFixed(0)} µs (${((median(cpuUs.on) / median(cpuUs.off) - 1) * 100).toFixed(1)}%)`);
await db.stop();
await fs.rm(dir, { recursive: true, force: true });
