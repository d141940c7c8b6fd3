// The delivery record behind the trace: writes that continue each other on one device are stored
// as one run, and the trace still gives each message the time of the write that carried it; old
// records are pruned without touching newer ones in other partitions.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import pg from 'pg';
import { startApp, uid, type TestApp } from '../helpers/app.ts';
import { openSse } from '../helpers/sse.ts';
import { sql, testDb } from '../helpers/db.ts';
import { migrate } from '../../db/migrate.ts';
import { DeliveryLog } from '../../app/ops/deliveryLog.ts';
import { pruneDeliveries } from '../../db/queries/ops.ts';

describe('delivery record', () => {
  describe('runs of writes', () => {
    let app: TestApp;
    // A long flush window: the three writes below land in one run.
    before(async () => { app = await startApp({ DELIVERY_LOG_FLUSH_MS: '5000' }); });
    after(() => app.close());

    it('a stream written three times in one flush is one row; the trace times each message by its own write', async () => {
      const bob = uid('bob');
      const token = await app.token(bob, { device: 'phone' });
      const stream = await openSse(app.url, '/v1/stream?since=0', { authorization: `Bearer ${token}` });
      await stream.waitFor((c) => c.events.some((e) => e.event === 'ready'));
      for (let i = 0; i < 3; i++) {
        await app.publish({ to: [bob], payload: { i } });
        await stream.waitFor((c) => c.messages().length === i + 1);
        await new Promise((r) => setTimeout(r, 30));
      }
      const sent = stream.messages() as unknown as { id: string; createdAt: string }[];
      stream.close();
      await app.service.deps.ops.deliveries!.flush();

      const rows = await sql<{ first_seq: string; last_seq: string; ends: string[] | null; at_ms: number[] | null }>(
        'SELECT first_seq, last_seq, ends, at_ms FROM deliveries WHERE tenant_id = $1 AND user_id = $2', [app.tenant.id, bob]);
      assert.equal(rows.length, 1, JSON.stringify(rows));
      assert.deepEqual([rows[0]!.first_seq, rows[0]!.last_seq, rows[0]!.ends].flat().map(Number), [1, 3, 1, 2, 3]);
      assert.equal(rows[0]!.at_ms![0], 0);
      assert.ok(rows[0]!.at_ms![1]! >= 30 && rows[0]!.at_ms![2]! > rows[0]!.at_ms![1]!, JSON.stringify(rows[0]));

      let last = 0;
      for (const m of sent) {
        const r = await app.http.get(`/v1/admin/messages/${m.id}/trace`).set('Authorization', `Bearer ${app.tenant.adminKey}`).expect(200);
        const written = r.body.recipients[0].devices[0].written as { at: string; transport: string }[];
        assert.equal(written.length, 1);
        assert.equal(written[0]!.transport, 'stream');
        const at = Date.parse(written[0]!.at);
        // Written after it was committed, and after the write of the message before it.
        assert.ok(at >= Date.parse(m.createdAt), `${written[0]!.at} is before ${m.createdAt}`);
        assert.ok(at > last);
        last = at;
      }
    });

    it('a write that does not continue the run (other transport, a gap) starts a row of its own', async () => {
      const pool = new pg.Pool({ connectionString: testDb().url, max: 1 });
      const log = new DeliveryLog(pool, { flushMs: 60_000, retentionS: 3600, onError: (e) => { throw e; } });
      const t = app.tenant.id;
      const u = uid('u');
      const at = (ms: number) => new Date(Date.UTC(2026, 11, 6, 12, 0, 0, ms));
      log.record({ tenantId: t, userId: u, deviceId: 'd', firstSeq: 1, lastSeq: 2, transport: 'stream', writtenAt: at(0) });
      log.record({ tenantId: t, userId: u, deviceId: 'd', firstSeq: 3, lastSeq: 3, transport: 'stream', writtenAt: at(15) });
      log.record({ tenantId: t, userId: u, deviceId: 'd', firstSeq: 4, lastSeq: 4, transport: 'poll', writtenAt: at(20) });
      log.record({ tenantId: t, userId: u, deviceId: 'd', firstSeq: 6, lastSeq: 6, transport: 'stream', writtenAt: at(30) });
      log.record({ tenantId: t, userId: u, deviceId: 'e', firstSeq: 7, lastSeq: 7, transport: 'stream', writtenAt: at(40) });
      await log.close();
      await pool.end();
      const rows = await sql<{ device_id: string; transport: string; first_seq: string; last_seq: string; ends: string[] | null; at_ms: number[] | null }>(
        'SELECT device_id, transport, first_seq, last_seq, ends, at_ms FROM deliveries WHERE tenant_id = $1 AND user_id = $2 ORDER BY written_at', [t, u]);
      const nums = (a: unknown[] | null) => a && a.map(Number);
      assert.deepEqual(rows.map((r) => [r.device_id, r.transport, Number(r.first_seq), Number(r.last_seq), nums(r.ends), nums(r.at_ms)]), [
        ['d', 'stream', 1, 3, [2, 3], [0, 15]],
        ['d', 'poll', 4, 4, null, null],
        ['d', 'stream', 6, 6, null, null],
        ['e', 'stream', 7, 7, null, null],
      ]);
    });
  });

  describe('pruning', () => {
    // A fresh database: both partitions below start empty, so their first rows share a ctid.
    const name = `mailslot_prune_${crypto.randomBytes(4).toString('hex')}`;
    let url: string;
    before(async () => {
      await sql(`CREATE DATABASE ${name}`);
      const u = new URL(testDb().url);
      u.pathname = `/${name}`;
      url = u.toString();
      await migrate(url);
    });
    after(async () => {
      await sql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    });

    it('removes old records only, although a ctid repeats in every partition', async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const insert = (tenant: string, ageS: number) => c.query(
          `INSERT INTO deliveries (tenant_id, user_id, device_id, first_seq, last_seq, transport, written_at)
           VALUES ($1, 'u', 'd', 1, 1, 'poll', now() - make_interval(secs => $2)) RETURNING tableoid::regclass::text AS part, ctid::text`, [tenant, ageS]);
        const old = (await insert('old-tenant', 7200)).rows[0]!;
        // A tenant in another partition, whose first row then has the same ctid.
        let fresh: { part: string; ctid: string } | undefined;
        for (let i = 0; !fresh; i++) {
          const r = (await insert(`new-tenant-${i}`, 0)).rows[0]!;
          if (r.part !== old.part && r.ctid === old.ctid) fresh = r;
        }
        const before = Number((await c.query('SELECT count(*) FROM deliveries')).rows[0].count);
        assert.equal(await pruneDeliveries(c, 3600, 100), 1);
        const left = (await c.query(`SELECT tenant_id FROM deliveries WHERE written_at < now() - interval '1 hour'`)).rows;
        assert.deepEqual(left, []);
        assert.equal(Number((await c.query('SELECT count(*) FROM deliveries')).rows[0].count), before - 1);
      } finally {
        await c.end();
      }
    });
  });
});
