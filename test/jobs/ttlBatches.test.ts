// 100,000 expired entries are cleaned up in bounded batches while publishes go on and succeed.
// Prints the cleanup rate and the publish latency measured during the run.
import assert from 'node:assert/strict';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { sql } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

const USERS = 200;
const MESSAGES = 500; // x 200 recipients = 100,000 entries
const BATCH = 5000;

describe('TTL cleanup at volume', function () {
  this.timeout(300_000);
  let loader: TestApp;
  let cleaner: TestApp | null = null;

  before(async () => { loader = await startApp({ JOBS_ENABLED: 'false' }); });
  after(async () => {
    await cleaner?.close();
    await loader.close();
  });

  it('deletes 100,000 expired entries in several bounded batches while publishes continue and succeed', async () => {
    const users = Array.from({ length: USERS }, (_, i) => `load${i}`);
    for (let i = 0; i < MESSAGES; i += 250) {
      const r = await loader.http.post('/v1/messages/batch').set('Authorization', `Bearer ${loader.tenant.adminKey}`)
        .send({ messages: Array.from({ length: 250 }, (_, j) => ({ to: users, payload: { n: i + j }, ttlSeconds: 1 })) });
      assert.equal(r.status, 200, r.text.slice(0, 500));
      assert.ok(r.body.results.every((x: { id?: string }) => x.id), 'every message stored');
    }
    const count = async () => Number((await sql<{ n: string }>('SELECT count(*) AS n FROM inbox_entries WHERE tenant_id = $1 AND user_id LIKE $2', [loader.tenant.id, 'load%']))[0]!.n);
    assert.equal(await count(), USERS * MESSAGES);
    await waitFor(async () => (await sql('SELECT 1 FROM inbox_entries WHERE tenant_id = $1 AND expires_at > now() LIMIT 1', [loader.tenant.id])).length === 0,
      { what: 'expiry' });

    // The first instance keeps publishing to another user; a second one starts and runs the cleanup.
    const started = new Date();
    const live = uid('live');
    const latencies: { at: number; ms: number }[] = [];
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        const t0 = performance.now();
        const r = await loader.http.post('/v1/messages').set('Authorization', `Bearer ${loader.tenant.adminKey}`)
          .send({ to: [live], payload: { at: Date.now() } });
        assert.equal(r.status, 201, r.text);
        latencies.push({ at: Date.now(), ms: performance.now() - t0 });
      }
    })();
    await waitFor(() => latencies.length >= 100, { what: 'baseline publishes' });
    cleaner = await startApp({ TTL_CLEANUP_CRON: '* * * * * *', TTL_BATCH: String(BATCH), TTL_BUDGET_MS: '120000' });
    let run: { started_at: Date; duration_ms: number; rows: number; detail: Record<string, number> } | undefined;
    try {
      run = await waitFor(async () => (await sql<{ started_at: Date; duration_ms: number; rows: number; detail: Record<string, number> }>(
        `SELECT started_at, duration_ms, rows, detail FROM job_runs
         WHERE job = 'ttl-cleanup' AND started_at >= $1 AND rows >= $2 AND error IS NULL ORDER BY rows DESC LIMIT 1`,
        [started, USERS * MESSAGES]))[0], { timeoutMs: 240_000, everyMs: 200, what: 'the big cleanup run' });
    } finally {
      publishing = false;
      await publisher;
    }

    assert.equal(await count(), 0);
    assert.equal(Number((await sql<{ n: string }>('SELECT count(*) AS n FROM messages WHERE tenant_id = $1 AND expires_at <= now()', [loader.tenant.id]))[0]!.n), 0);
    const d = run!.detail;
    assert.ok(d.entries! >= USERS * MESSAGES, JSON.stringify(d));
    assert.ok(d.batches! >= USERS * MESSAGES / BATCH, `ran in ${d.batches} batches`);
    assert.ok(d.largestBatch! <= BATCH, `largest batch ${d.largestBatch}`);
    assert.equal(d.complete, true);

    // Publishes made while the run was going on all succeeded (asserted in the loop) and are kept.
    const from = run!.started_at.getTime();
    const during = latencies.filter((l) => l.at >= from && l.at <= from + run!.duration_ms).map((l) => l.ms).sort((a, b) => a - b);
    assert.ok(during.length >= 5, `only ${during.length} publishes during the run`);
    const kept = Number((await sql<{ n: string }>('SELECT count(*) AS n FROM inbox_entries WHERE tenant_id = $1 AND user_id = $2', [loader.tenant.id, live]))[0]!.n);
    assert.equal(kept, latencies.length);
    const before = latencies.filter((l) => l.at < from).map((l) => l.ms).sort((a, b) => a - b);
    const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(1);
    console.log(`      cleanup: ${run!.rows} rows in ${run!.duration_ms} ms = ${Math.round(run!.rows * 1000 / run!.duration_ms)} rows/s, `
      + `${d.batches} batches (largest ${d.largestBatch}); ${during.length} publishes during it: `
      + `p50 ${pct(during, 0.5)} ms, p95 ${pct(during, 0.95)} ms, max ${during.at(-1)!.toFixed(1)} ms `
      + `(before it: p50 ${pct(before, 0.5)} ms, p95 ${pct(before, 0.95)} ms, n=${before.length})`);
  });
});
