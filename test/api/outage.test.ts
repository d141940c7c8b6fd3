// A database outage: PostgreSQL stops while publishers run and clients wait. Publishes answer 503 +
// Retry-After within a bound, /readyz is 503, held polls keep waiting; when PostgreSQL returns, the
// pool and the LISTEN connection recover by themselves (no restart), waiters are re-checked, and
// every publish that got a 2xx is in its inbox with no gap. The run's shared cluster is used by
// every other test, so this one starts a cluster of its own.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbedded, type EmbeddedDb } from '../../db/embedded.ts';
import { migrate } from '../../db/migrate.ts';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { openSse } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';

interface Outcome { status: number; ms: number; at: number; id?: string; user: string; retryAfter: string | null; error?: string }

describe('database outage', () => {
  let dir: string;
  let db: EmbeddedDb;
  let app: TestApp;
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => { rejections.push(e); };

  before(async function () {
    this.timeout(120_000);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mailslot-outage-'));
    await fs.chmod(dir, 0o755);
    db = await startEmbedded({ dir, postgresFlags: ['-c', 'fsync=off'] });
    await migrate(db.url);
    app = await startApp({ DATABASE_URL: db.url, PG_ACQUIRE_TIMEOUT_MS: '1000', PG_STATEMENT_TIMEOUT_MS: '2000', JOBS_ENABLED: 'true' });
    process.on('unhandledRejection', onRejection);
  });
  after(async function () {
    this.timeout(60_000);
    process.off('unhandledRejection', onRejection);
    await app?.close();
    await db?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('publishes get 503 + Retry-After quickly, /readyz 503; on return everything recovers by itself and nothing acknowledged is lost', async function () {
    this.timeout(180_000);
    const users = Array.from({ length: 4 }, () => uid());
    const [pollUser, streamUser] = users as [string, string];
    const pollToken = await app.token(pollUser);
    const streamToken = await app.token(streamUser);
    const stream = await openSse(app.url, '/v1/stream?since=0', { authorization: `Bearer ${streamToken}` });
    const heldPoll = app.http.get('/v1/poll?since=0&timeout=60').set('Authorization', `Bearer ${pollToken}`).then((r) => ({ r, at: Date.now() }));
    await waitFor(() => app.service.deps.registry.polls === 1, { what: 'the poll to be held' });

    const outcomes: Outcome[] = [];
    let running = true;
    const publisher = async () => {
      while (running) {
        const user = users[1 + Math.floor(Math.random() * 3)]!; // the poll's user is kept quiet until the end
        const t0 = Date.now();
        try {
          const r = await fetch(`${app.url}/v1/messages`, {
            method: 'POST', headers: { authorization: `Bearer ${app.tenant.adminKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ to: [user], payload: { t0 } }),
          });
          const body = await r.json() as { id?: string; error?: string };
          outcomes.push({ status: r.status, ms: Date.now() - t0, at: Date.now(), id: body.id, user, retryAfter: r.headers.get('retry-after'), error: body.error });
          if (r.status >= 500) await new Promise((res) => setTimeout(res, 50));
        } catch (err) {
          outcomes.push({ status: 0, ms: Date.now() - t0, at: Date.now(), user, retryAfter: null, error: String(err) });
        }
      }
    };
    const publishers = Array.from({ length: 4 }, publisher);
    await waitFor(() => outcomes.filter((o) => o.status === 201).length >= 100, { what: '100 publishes before the outage' });

    const stoppedAt = Date.now();
    await db.stop();
    // Long enough for the LISTEN reconnect backoff to reach its cap: recovery is measured at its worst.
    await waitFor(() => Date.now() - stoppedAt > 6000 && outcomes.filter((o) => o.at > stoppedAt && o.status === 503).length >= 20, { timeoutMs: 30_000, what: '503s during the outage' });
    const ready = await fetch(`${app.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal((await ready.json() as { checks: { database: boolean } }).checks.database, false);
    assert.equal(app.service.deps.registry.polls, 1, 'the held poll keeps waiting');

    const startAt = Date.now();
    await db.start();
    const dbBackAt = Date.now();
    let publishOkAt = 0;
    await waitFor(() => {
      const ok = outcomes.find((o) => o.at > dbBackAt && o.status === 201);
      if (ok) publishOkAt ||= ok.at;
      return ok;
    }, { timeoutMs: 30_000, what: 'a publish to succeed after the restart' });
    const readyAt: number = await waitFor(async () => ((await fetch(`${app.url}/readyz`)).status === 200 ? Date.now() : 0), { timeoutMs: 30_000, everyMs: 50, what: '/readyz 200' });
    await waitFor(() => outcomes.filter((o) => o.at > readyAt && o.status === 201).length >= 50, { what: 'publishing to go on' });
    running = false;
    await Promise.all(publishers);

    const during = outcomes.filter((o) => o.at > stoppedAt && o.at < dbBackAt);
    const unavailable = during.filter((o) => o.status === 503);
    assert.ok(unavailable.every((o) => o.error === 'unavailable' && Number(o.retryAfter) >= 1), 'every 503 is the contract body with Retry-After');
    assert.deepEqual([...new Set(during.map((o) => o.status))].filter((s) => s !== 503 && s !== 201), [], 'nothing but 201 (before the stop took effect) and 503');
    const slowest = Math.max(...during.map((o) => o.ms));
    assert.ok(slowest < 8000, `no publish hung during the outage (slowest ${slowest} ms)`);

    // The waiters were re-checked: the held poll is answered by a message published now.
    const last = await app.publish({ to: [pollUser], payload: { last: true } });
    const { r: pollAnswer } = await heldPoll;
    assert.equal(pollAnswer.status, 200);
    assert.deepEqual(pollAnswer.body.messages.map((m: { id: string }) => m.id), [last.id]);

    // Every acknowledged publish is stored, each inbox is 1..head with no gap, and the stream that
    // lived through the outage delivered its inbox in order.
    const acked = outcomes.filter((o) => o.status === 201);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const found = await c.query<{ id: string }>('SELECT id FROM messages WHERE tenant_id = $1 AND id = ANY($2::uuid[])', [app.tenant.id, acked.map((o) => o.id)]);
      assert.equal(found.rowCount, acked.length, 'every 2xx publish is stored');
      for (const u of users) {
        const { rows } = await c.query<{ seqs: number[]; head: number }>(
          `SELECT coalesce(array_agg(e.seq::int ORDER BY e.seq), '{}') AS seqs, (SELECT head_seq::int FROM inboxes WHERE tenant_id = $1 AND user_id = $2) AS head
           FROM inbox_entries e WHERE e.tenant_id = $1 AND e.user_id = $2`, [app.tenant.id, u]);
        const { seqs, head } = rows[0]!;
        assert.deepEqual(seqs, Array.from({ length: head }, (_, i) => i + 1), `inbox of ${u} has no gap`);
      }
      const streamHead = (await c.query<{ head_seq: number }>('SELECT head_seq FROM inboxes WHERE tenant_id = $1 AND user_id = $2', [app.tenant.id, streamUser])).rows[0]!.head_seq;
      await stream.waitFor((s) => s.messages().length >= streamHead, 30_000);
      assert.deepEqual(stream.messages().map((m) => m.seq), Array.from({ length: streamHead }, (_, i) => i + 1));
    } finally {
      await c.end();
      stream.close();
    }
    assert.deepEqual(rejections, [], 'no unhandled rejection');
    console.log(`      ${acked.length} publishes acknowledged, all found; ${unavailable.length} answered 503 during the ${dbBackAt - stoppedAt} ms outage (slowest ${slowest} ms);`
      + ` PostgreSQL start took ${dbBackAt - startAt} ms; after it, first 201 in ${publishOkAt - dbBackAt} ms, /readyz 200 in ${readyAt - dbBackAt} ms`);
  });

  it('a frozen database (SIGSTOP: connections open, nothing answers): publishes and /readyz answer 503 within the configured bound, then recover', async function () {
    this.timeout(120_000);
    const pid = db.pid()!;
    const children = (await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean).map(Number);
    const all = [pid, ...children];
    const u = uid();
    await app.publish({ to: [u], payload: { before: true } }); // a pooled connection is open and idle
    for (const p of all) process.kill(p, 'SIGSTOP');
    let results: { status: number; ms: number; retryAfter: string | null }[];
    let ready: { status: number; ms: number };
    try {
      results = await Promise.all(Array.from({ length: 6 }, async () => {
        const t0 = Date.now();
        const r = await fetch(`${app.url}/v1/messages`, {
          method: 'POST', headers: { authorization: `Bearer ${app.tenant.adminKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ to: [u], payload: {} }),
        });
        return { status: r.status, ms: Date.now() - t0, retryAfter: r.headers.get('retry-after') };
      }));
      const t0 = Date.now();
      ready = { status: (await fetch(`${app.url}/readyz`)).status, ms: Date.now() - t0 };
    } finally {
      for (const p of all) process.kill(p, 'SIGCONT');
    }
    // PG_ACQUIRE_TIMEOUT_MS=1000, PG_STATEMENT_TIMEOUT_MS=2000 (+2 s client-side query timeout).
    for (const r of results) {
      assert.equal(r.status, 503);
      assert.ok(Number(r.retryAfter) >= 1);
      assert.ok(r.ms < 10_000, `answered in ${r.ms} ms`);
    }
    assert.equal(ready.status, 503);
    await waitFor(async () => (await fetch(`${app.url}/readyz`)).status === 200, { timeoutMs: 30_000, what: '/readyz 200 after SIGCONT' });
    await app.publish({ to: [u], payload: { after: true } });
    console.log(`      frozen database: publishes answered 503 in ${Math.min(...results.map((r) => r.ms))}-${Math.max(...results.map((r) => r.ms))} ms, /readyz 503 in ${ready.ms} ms`);
  });
});
