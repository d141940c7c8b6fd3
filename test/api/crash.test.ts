// kill -9 during a burst of publishes from several clients: after a restart every acknowledged
// message is stored exactly once and no inbox has a gap. Retrying the unanswered requests with their
// dedupId then stores each of them exactly once too (stored before the kill: answered as a duplicate).
import assert from 'node:assert/strict';
import pg from 'pg';
import { spawnServer, type ServerProcess } from '../helpers/spawn.ts';
import { testDb } from '../helpers/db.ts';
import { uid } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';
import { createTenant } from '../../app/services/credentials.ts';

interface Attempt { dedupId: string; to: string[]; status: number; id?: string; seqs?: Record<string, number> }

describe('crash (kill -9) during a publish burst', () => {
  let db: pg.Pool;
  let server: ServerProcess | null = null;
  before(() => { db = new pg.Pool({ connectionString: testDb().url, max: 2 }); });
  after(async () => {
    await server?.stop();
    await db.end();
  });

  it('every 2xx-acknowledged message is present exactly once after a restart; no inbox has a gap', async function () {
    this.timeout(180_000);
    const env = { DATABASE_URL: testDb().url, JOBS_ENABLED: 'false' };
    const tenant = (await createTenant(db, uid('t'), 86400))!;
    const users = Array.from({ length: 5 }, () => uid());
    server = await spawnServer(env);
    const first = server;

    const attempts: Attempt[] = [];
    const publish = async (url: string, a: Omit<Attempt, 'status'>) => {
      const r = await fetch(`${url}/v1/messages`, {
        method: 'POST', headers: { authorization: `Bearer ${tenant.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: a.to, payload: { dedupId: a.dedupId }, dedupId: a.dedupId }),
      });
      const body = await r.json() as { id: string; seqs: Record<string, number>; duplicate: boolean };
      return { status: r.status, body };
    };
    const client = async (c: number) => {
      for (let n = 0; ; n++) {
        const to = users.filter(() => Math.random() < 0.5);
        const a: Attempt = { dedupId: `c${c}-${n}`, to: to.length ? to : [users[c % users.length]!], status: 0 };
        attempts.push(a);
        try {
          const r = await publish(first.url, a);
          a.status = r.status;
          if (r.status === 201) { a.id = r.body.id; a.seqs = r.body.seqs; }
        } catch {
          return; // the server is gone: this request's fate is unknown
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, c) => client(c));
    await waitFor(() => attempts.filter((a) => a.status === 201).length >= 500, { timeoutMs: 60_000, what: '500 acknowledged publishes' });
    await first.kill9();
    await Promise.all(clients);

    server = await spawnServer(env);
    const acked = attempts.filter((a) => a.status === 201);
    const unknown = attempts.filter((a) => a.status === 0);
    assert.equal(attempts.length, acked.length + unknown.length, 'every answered publish was a 201');

    const { rows: stored } = await db.query<{ id: string; dedup_id: string; n: number }>(
      'SELECT id, dedup_id, count(*) OVER (PARTITION BY dedup_id)::int AS n FROM messages WHERE tenant_id = $1', [tenant.tenantId]);
    const byDedup = new Map(stored.map((r) => [r.dedup_id, r]));
    assert.ok(stored.every((r) => r.n === 1), 'no dedupId stored twice');
    for (const a of acked) assert.equal(byDedup.get(a.dedupId)?.id, a.id, `acknowledged ${a.dedupId} is stored`);
    const { rows: entries } = await db.query<{ user_id: string; seq: number; message_id: string }>(
      'SELECT user_id, seq::int AS seq, message_id FROM inbox_entries WHERE tenant_id = $1 ORDER BY user_id, seq', [tenant.tenantId]);
    const entryAt = new Map(entries.map((e) => [`${e.user_id}/${e.seq}`, e.message_id]));
    for (const a of acked) {
      for (const [u, seq] of Object.entries(a.seqs!)) assert.equal(entryAt.get(`${u}/${seq}`), a.id, `${a.dedupId} is at ${u}/${seq}`);
    }
    const checkInboxes = async () => {
      const { rows } = await db.query<{ user_id: string; seq: number; message_id: string }>(
        'SELECT user_id, seq::int AS seq, message_id FROM inbox_entries WHERE tenant_id = $1 ORDER BY user_id, seq', [tenant.tenantId]);
      const { rows: heads } = await db.query<{ user_id: string; head_seq: number }>('SELECT user_id, head_seq::int AS head_seq FROM inboxes WHERE tenant_id = $1', [tenant.tenantId]);
      for (const h of heads) {
        const mine = rows.filter((r) => r.user_id === h.user_id);
        assert.deepEqual(mine.map((r) => r.seq), Array.from({ length: h.head_seq }, (_, i) => i + 1), `inbox ${h.user_id}: 1..head, no gap`);
        assert.equal(new Set(mine.map((r) => r.message_id)).size, mine.length, `inbox ${h.user_id}: each message once`);
      }
      return rows.length;
    };
    await checkInboxes();
    const storedBeforeRetry = unknown.filter((a) => byDedup.has(a.dedupId)).length;

    // Retry what got no answer, as a client would, with the same dedupId.
    let duplicates = 0;
    for (const a of unknown) {
      const r = await publish(server.url, a);
      assert.ok(r.status === 201 || (r.status === 200 && r.body.duplicate), `retry of ${a.dedupId}: ${r.status}`);
      if (r.status === 200) duplicates++;
    }
    assert.equal(duplicates, storedBeforeRetry, 'exactly the unanswered ones stored before the kill are duplicates');
    const total = await checkInboxes();
    const { rows: [count] } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM messages WHERE tenant_id = $1', [tenant.tenantId]);
    assert.equal(count!.n, attempts.length, 'after the retries every attempted message is stored exactly once');
    console.log(`      ${acked.length} acknowledged / ${acked.length} found exactly once; ${unknown.length} in flight at the kill`
      + ` (${storedBeforeRetry} of them had been committed); ${total} inbox entries, no gap`);
  });
});
