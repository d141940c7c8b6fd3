// Warming a connection. A new PostgreSQL backend plans its first statement over the partitioned
// tables slowly: it loads the catalog entries of every partition and index it touches (~3 ms for
// one inbox read against ~0.2 ms afterwards, measured on embedded PostgreSQL 18). Planning (not
// running) one join over the hot tables without a tenant loads them all, once per connection
// (~35 ms), before any request waits for it.
import type { Queryable } from '../pool.ts';

export const WARM_SQL = `EXPLAIN SELECT 1
  FROM inbox_entries e
  JOIN messages m ON m.tenant_id = e.tenant_id AND m.id = e.message_id
  JOIN inboxes i ON i.tenant_id = e.tenant_id AND i.user_id = e.user_id
  JOIN devices d ON d.tenant_id = e.tenant_id AND d.user_id = e.user_id
  WHERE e.seq = 0`;

/** Opens (up to) n connections of the pool at once, each warmed. */
export async function warmPool(db: Queryable, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, () => db.query(WARM_SQL)));
}
