// Publishing: one statement stores a whole batch of messages (group commit), assigns every
// recipient's seq under the inbox row lock, writes the entries and sends the wake-up NOTIFYs.
import type { Queryable } from '../pool.ts';

export interface NewMessage {
  tenantId: string;
  id: string;
  sender: string;
  groupId: string | null;
  type: string;
  /** The payload as JSON text (validated at the edge). */
  payloadJson: string;
  dedupId: string | null;
  reqHash: Buffer;
  ttlS: number;
  /** Distinct recipients (the sender's copy included). */
  recipients: readonly string[];
}

export interface StoredMessage {
  createdAt: Date;
  expiresAt: Date;
  seqs: Record<string, number>;
}

// Why one statement: a round trip per step would cost more than the work. The CTEs run in one
// snapshot; `heads` locks inbox rows in (tenant, user) order, which is the global lock order that
// keeps concurrent publishes deadlock-free. A user receiving k messages in the batch advances its
// head by k and gets the k seqs in batch order. ON CONFLICT DO NOTHING on the dedup index skips a
// repeated dedupId (also within the batch); such a message returns no row and is resolved by the
// caller. NOTIFY payloads stay below PostgreSQL's 8000-byte limit: 40 users (<= 128 chars) a chunk.
const PUBLISH_BATCH_SQL = `
WITH msg AS (
  SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::int[])
    WITH ORDINALITY AS t(tenant_id, id, sender, group_id, type, payload, dedup_id, req_hash, ttl_s, ord)
), ins AS (
  INSERT INTO messages (tenant_id, id, sender, group_id, type, payload, dedup_id, req_hash, created_at, expires_at)
  SELECT tenant_id, id, sender, group_id, type, payload::jsonb, dedup_id, req_hash, now(), now() + make_interval(secs => ttl_s)
  FROM msg ORDER BY ord
  ON CONFLICT (tenant_id, sender, dedup_id) WHERE dedup_id IS NOT NULL DO NOTHING
  RETURNING id, created_at, expires_at
), rcp AS (
  SELECT msg.ord, msg.tenant_id, msg.id, r.user_id, ins.expires_at
  FROM unnest($10::int[], $11::text[]) AS r(ord, user_id)
  JOIN msg ON msg.ord = r.ord
  JOIN ins ON ins.id = msg.id
), cnt AS (
  SELECT tenant_id, user_id, count(*) AS n FROM rcp GROUP BY tenant_id, user_id
), heads AS (
  INSERT INTO inboxes AS ib (tenant_id, user_id, head_seq)
  SELECT tenant_id, user_id, n FROM cnt ORDER BY tenant_id COLLATE "C", user_id COLLATE "C"
  ON CONFLICT (tenant_id, user_id) DO UPDATE SET head_seq = ib.head_seq + EXCLUDED.head_seq
  RETURNING tenant_id, user_id, head_seq
), seqd AS (
  SELECT rcp.ord, rcp.tenant_id, rcp.user_id, rcp.id, rcp.expires_at,
         heads.head_seq - cnt.n + row_number() OVER (PARTITION BY rcp.tenant_id, rcp.user_id ORDER BY rcp.ord) AS seq
  FROM rcp JOIN cnt USING (tenant_id, user_id) JOIN heads USING (tenant_id, user_id)
), ent AS (
  INSERT INTO inbox_entries (tenant_id, user_id, seq, message_id, expires_at)
  SELECT tenant_id, user_id, seq, id, expires_at FROM seqd
), note AS (
  SELECT pg_notify('mailslot', 'w|' || tenant_id || '|' || string_agg(user_id || '|' || head_seq, '|'))
  FROM (SELECT tenant_id, user_id, head_seq,
               (row_number() OVER (PARTITION BY tenant_id ORDER BY user_id) - 1) / 40 AS chunk
        FROM heads) h
  GROUP BY tenant_id, chunk
)
SELECT msg.ord::int AS ord, ins.created_at, ins.expires_at, s.user_id, s.seq,
       (SELECT count(*) FROM note) AS notified
FROM msg JOIN ins ON ins.id = msg.id
LEFT JOIN seqd s ON s.ord = msg.ord`;

/**
 * Stores messages in one transaction (the statement is its own transaction when `db` is a pool).
 * Returns, per input index, the stored result, or null where the dedupId already existed.
 */
export async function insertMessages(db: Queryable, batch: readonly NewMessage[]): Promise<(StoredMessage | null)[]> {
  const rOrd: number[] = [];
  const rUser: string[] = [];
  batch.forEach((m, i) => {
    for (const u of m.recipients) {
      rOrd.push(i + 1);
      rUser.push(u);
    }
  });
  const { rows } = await db.query<{ ord: number; created_at: Date; expires_at: Date; user_id: string | null; seq: number | null }>({
    name: 'publish_batch',
    text: PUBLISH_BATCH_SQL,
    values: [
      batch.map((m) => m.tenantId), batch.map((m) => m.id), batch.map((m) => m.sender), batch.map((m) => m.groupId),
      batch.map((m) => m.type), batch.map((m) => m.payloadJson), batch.map((m) => m.dedupId), batch.map((m) => m.reqHash),
      batch.map((m) => m.ttlS), rOrd, rUser,
    ],
  });
  const out: (StoredMessage | null)[] = batch.map(() => null);
  for (const r of rows) {
    let s = out[r.ord - 1];
    if (!s) s = out[r.ord - 1] = { createdAt: r.created_at, expiresAt: r.expires_at, seqs: {} };
    if (r.user_id !== null && r.seq !== null) s.seqs[r.user_id] = r.seq;
  }
  return out;
}

export interface ExistingMessage {
  id: string;
  reqHash: Buffer | null;
  createdAt: Date;
  expiresAt: Date;
  seqs: Record<string, number>;
}

/** The message already stored under (tenant, sender, dedupId), with its recipients' seqs. */
export async function findByDedup(db: Queryable, tenantId: string, sender: string, dedupId: string): Promise<ExistingMessage | null> {
  const { rows } = await db.query<{ id: string; req_hash: Buffer | null; created_at: Date; expires_at: Date; seqs: Record<string, number> | null }>({
    name: 'find_by_dedup',
    text: `SELECT m.id, m.req_hash, m.created_at, m.expires_at,
                  (SELECT json_object_agg(e.user_id, e.seq) FROM inbox_entries e
                    WHERE e.tenant_id = m.tenant_id AND e.message_id = m.id) AS seqs
           FROM messages m WHERE m.tenant_id = $1 AND m.sender = $2 AND m.dedup_id = $3`,
    values: [tenantId, sender, dedupId],
  });
  const r = rows[0];
  return r ? { id: r.id, reqHash: r.req_hash, createdAt: r.created_at, expiresAt: r.expires_at, seqs: r.seqs ?? {} } : null;
}
