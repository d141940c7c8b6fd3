// Settings the embedded PostgreSQL runs with (db/embedded.ts), read back from the cluster the
// test run started through the same code.
import assert from 'node:assert/strict';
import { sql, testDb } from '../helpers/db.ts';

describe('embedded PostgreSQL settings', () => {
  before(function () {
    if (!testDb().embedded) this.skip(); // TEST_DATABASE_URL: someone else's server and settings
  });

  it('creates WAL segments without zero-filling them (16 MB written and fsynced inside a commit)', async () => {
    const [row] = await sql<{ wal_init_zero: string }>('SHOW wal_init_zero');
    assert.equal(row!.wal_init_zero, 'off');
  });

  it('listens on loopback only', async () => {
    const [row] = await sql<{ listen_addresses: string }>('SHOW listen_addresses');
    assert.equal(row!.listen_addresses, '127.0.0.1');
  });
});

describe('payload index', () => {
  it('has no pending list on any partition: publishes never merge one (migration 008)', async () => {
    const rows = await sql<{ part: string; fastupdate: boolean }>(
      `SELECT i.inhrelid::regclass::text AS part, coalesce('fastupdate=off' = ANY(c.reloptions), false) = false AS fastupdate
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'messages_payload_gin'::regclass`);
    assert.equal(rows.length, 16, 'one index per hash partition');
    assert.deepEqual(rows.filter((r) => r.fastupdate).map((r) => r.part), []);
  });
});
