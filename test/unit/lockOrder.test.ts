// Statements that update many device rows lock them in (user, device) order, the order the poll
// start statement uses: two statements locking in different orders can deadlock, and the one
// PostgreSQL picks fails after deadlock_timeout (1 s) — a poll start stuck that long delays a
// delivery by as much. Each case holds the first row of a pair in another transaction, runs the
// statement with the pair given in reverse order, then takes the second row: a statement that
// locked in input order now holds it, and one of the two fails (deadlock or lock_timeout).
import assert from 'node:assert/strict';
import pg from 'pg';
import { createPool, type Pool } from '../../db/pool.ts';
import { noteDelivered } from '../../db/queries/delivery.ts';
import { touchDevices } from '../../db/queries/devices.ts';
import { testDb, sql } from '../helpers/db.ts';
import { uid } from '../helpers/app.ts';

describe('device rows are locked in (user, device) order', () => {
  let pool: Pool;
  let tenant: string;
  before(async () => {
    pool = createPool(testDb().url, { max: 2, acquireTimeoutMs: 2000, statementTimeoutMs: 5000, onError: () => undefined });
    tenant = uid('lk');
    await sql(`INSERT INTO tenants (id, signing_secret, max_ttl_s) VALUES ($1, 'x', 3600)`, [tenant]);
    // A tenant with many devices: the plans that follow their input's order (a nested loop of
    // lookups) are the ones chosen then; with few, a scan in the table's order hides the fault.
    await sql(`INSERT INTO devices (tenant_id, user_id, device_id) SELECT $1, 'm' || i, 'd' FROM generate_series(1, 20000) i`, [tenant]);
    await sql('ANALYZE devices');
  });
  after(async () => {
    await sql('DELETE FROM tenants WHERE id = $1', [tenant]);
    await pool.end();
  });

  /** Returns the pair's users. */
  async function inReverseWhileFirstIsHeld(run: (users: string[], devices: string[]) => Promise<void>): Promise<string[]> {
    const [a, b] = ['a-' + uid(), 'b-' + uid()];
    // b first: neither the rows' physical order nor the input order is the lock order.
    await sql(`INSERT INTO devices (tenant_id, user_id, device_id) VALUES ($1, $2, 'd')`, [tenant, b]);
    await sql(`INSERT INTO devices (tenant_id, user_id, device_id) VALUES ($1, $2, 'd')`, [tenant, a]);
    const other = new pg.Client({ connectionString: testDb().url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SET LOCAL lock_timeout = '2s'`);
      await other.query(`SELECT 1 FROM devices WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE`, [tenant, a]);
      const statement = run([b, a], ['d', 'd']);
      await new Promise((r) => setTimeout(r, 300)); // the statement is now waiting for a
      await other.query(`UPDATE devices SET last_seen = now() WHERE tenant_id = $1 AND user_id = $2`, [tenant, b]);
      await other.query('COMMIT');
      await statement;
    } finally {
      await other.end();
    }
    return [a, b];
  }

  it('delivery hints (note_delivered)', async () => {
    const pair = await inReverseWhileFirstIsHeld((users, devices) => noteDelivered(pool, tenant, users, devices, [5, 5]));
    const rows = await sql<{ s: string }>('SELECT delivered_seq::text AS s FROM devices WHERE tenant_id = $1 AND user_id = ANY($2)', [tenant, pair]);
    assert.deepEqual(rows.map((r) => r.s), ['5', '5'], 'both hints written once the other transaction let go');
  });

  it('online refreshes (touch_devices)', async () => {
    await inReverseWhileFirstIsHeld((users, devices) => touchDevices(pool, tenant, users, devices));
  });
});
