// TTL cleanup, one bounded batch at a time: expired inbox entries (advancing each inbox's retention
// floor in the same transaction), then expired messages no entry references any more (which frees
// their dedup ids). Every statement is bounded by a LIMIT; none holds writers out for long.
import type { Queryable } from '../pool.ts';

export interface TouchedInbox {
  tenantId: string;
  userId: string;
  deleted: number;
}

/** Deletes up to `limit` expired entries, oldest expiry first; returns the inboxes touched. */
export async function deleteExpiredEntries(db: Queryable, limit: number): Promise<TouchedInbox[]> {
  const { rows } = await db.query<{ tenant_id: string; user_id: string; n: number }>({
    name: 'ttl_delete_entries',
    text: `WITH doomed AS (
             SELECT tenant_id, user_id, seq FROM inbox_entries WHERE expires_at <= now()
             ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
           ), del AS (
             DELETE FROM inbox_entries e USING doomed d
             WHERE e.tenant_id = d.tenant_id AND e.user_id = d.user_id AND e.seq = d.seq
             RETURNING e.tenant_id, e.user_id)
           SELECT tenant_id, user_id, count(*) AS n FROM del GROUP BY tenant_id, user_id`,
    values: [limit],
  });
  return rows.map((r) => ({ tenantId: r.tenant_id, userId: r.user_id, deleted: r.n }));
}

/**
 * Locks inbox rows in the global lock order (tenant, user, "C" collation): the order publishes
 * take them, so cleanup and a multi-recipient publish cannot deadlock. Call inside the transaction
 * that deleted the entries, before advanceFloors.
 */
export async function lockInboxes(db: Queryable, tenants: readonly string[], users: readonly string[]): Promise<void> {
  await db.query({
    name: 'ttl_lock_inboxes',
    text: `SELECT 1 FROM inboxes ib
           JOIN unnest($1::text[], $2::text[]) AS t(tenant_id, user_id) ON ib.tenant_id = t.tenant_id AND ib.user_id = t.user_id
           ORDER BY ib.tenant_id COLLATE "C", ib.user_id COLLATE "C" FOR UPDATE OF ib`,
    values: [tenants, users],
  });
}

/**
 * Moves each inbox's floor up to just below its oldest remaining entry (or to its head when none
 * remains). Run with the inbox rows locked (lockInboxes): no publish can add a seq meanwhile, so the
 * head and the remaining entries are read consistently. Seqs are gap-free, so every seq below the
 * oldest remaining one has expired; the floor never moves back.
 */
export async function advanceFloors(db: Queryable, tenants: readonly string[], users: readonly string[]): Promise<number> {
  const { rowCount } = await db.query({
    name: 'ttl_advance_floors',
    text: `UPDATE inboxes ib SET floor_seq = x.fl
           FROM (
             SELECT ib2.tenant_id, ib2.user_id,
                    LEAST(ib2.head_seq, COALESCE((SELECT min(e.seq) FROM inbox_entries e
                                                  WHERE e.tenant_id = ib2.tenant_id AND e.user_id = ib2.user_id
                                                    AND e.seq > ib2.floor_seq), ib2.head_seq + 1) - 1) AS fl
             FROM inboxes ib2
             JOIN unnest($1::text[], $2::text[]) AS t(tenant_id, user_id) ON ib2.tenant_id = t.tenant_id AND ib2.user_id = t.user_id
           ) x
           WHERE ib.tenant_id = x.tenant_id AND ib.user_id = x.user_id AND x.fl > ib.floor_seq`,
    values: [tenants, users],
  });
  return rowCount ?? 0;
}

/** Deletes up to `limit` expired messages that no entry references; their dedup ids are free again. */
export async function deleteExpiredMessages(db: Queryable, limit: number): Promise<number> {
  const { rowCount } = await db.query({
    name: 'ttl_delete_messages',
    text: `WITH doomed AS (
             SELECT m.tenant_id, m.id FROM messages m
             WHERE m.expires_at <= now()
               AND NOT EXISTS (SELECT 1 FROM inbox_entries e WHERE e.tenant_id = m.tenant_id AND e.message_id = m.id)
             ORDER BY m.expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
           DELETE FROM messages m USING doomed d WHERE m.tenant_id = d.tenant_id AND m.id = d.id`,
    values: [limit],
  });
  return rowCount ?? 0;
}
