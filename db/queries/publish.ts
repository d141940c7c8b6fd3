// Publishing: one statement stores a whole batch of messages (group commit), assigns every
// recipient's seq under the inbox row lock, writes the entries and sends the wake-up NOTIFYs.
import type { Queryable } from '../pool.ts';
import { buildBodyJson } from './messageJson.ts';

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
  /** Distinct explicit recipients (the sender's copy included). */
  recipients: readonly string[];
  /**
   * How a group message reaches its members: 'inline' adds the group's members to the recipients
   * in the publish statement itself; 'queued' snapshots them into an outbox row for the fan-out
   * job. 'none' for a message without a group.
   */
  fanout: 'none' | 'inline' | 'queued';
}

export interface StoredMessage {
  createdAt: Date;
  expiresAt: Date;
  seqs: Record<string, number>;
  /** Members left to the fan-out job (a 'queued' message), else null. */
  queued: number | null;
  /** The body JSON as readers get it (messages.body): waiters here and the body cache take it. */
  body: string | null;
}

// Why one statement: a round trip per step would cost more than the work. The CTEs run in one
// snapshot; `heads` locks inbox rows in (tenant, user) order, which is the global lock order that
// keeps concurrent publishes deadlock-free. A user receiving k messages in the batch advances its
// head by k and gets the k seqs in batch order. ON CONFLICT DO NOTHING on the dedup index skips a
// repeated dedupId (also within the batch); such a message returns no row and is resolved by the
// caller. Group members are read in the statement's own snapshot (the membership committed when
// the publish runs); `rcp` unions them with the explicit recipients (the sender's copy), which
// also drops the duplicate when the sender is a member. A 'queued' group gets an outbox row with
// its members fixed in that same snapshot instead (`obx`), minus the explicit recipients.
// NOTIFY payloads stay below PostgreSQL's 8000-byte limit: 40 users (<= 128 chars) a chunk.
// Each message's body (what readers receive) is built here once, stored, and returned with its
// recipients' seqs in one row per message: waiters in this process take it without reading the
// inbox, and the body cache keeps it for readers catching up. The NOTIFY ends with `|@<origin>`,
// the publishing process: it hands its own commits to its waiters itself.
const PUBLISH_BATCH_SQL = `
WITH msg AS (
  SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::int[], $12::text[])
    WITH ORDINALITY AS t(tenant_id, id, sender, group_id, type, payload, dedup_id, req_hash, ttl_s, fanout, ord)
), ins AS (
  INSERT INTO messages (tenant_id, id, sender, group_id, type, payload, dedup_id, req_hash, created_at, expires_at, body)
  SELECT tenant_id, id, sender, group_id, type, pj, dedup_id, req_hash, ca, ea, ${buildBodyJson({
    id: 'v.id', sender: 'v.sender', group: 'v.group_id', type: 'v.type', payload: 'v.pj', createdAt: 'v.ca', expiresAt: 'v.ea',
  })}
  FROM (SELECT msg.*, msg.payload::jsonb AS pj, now() AS ca, now() + make_interval(secs => msg.ttl_s) AS ea FROM msg) v ORDER BY ord
  ON CONFLICT (tenant_id, sender, dedup_id) WHERE dedup_id IS NOT NULL DO NOTHING
  RETURNING id, created_at, expires_at, body
), given AS (
  SELECT * FROM unnest($10::int[], $11::text[]) AS r(ord, user_id)
), rcp AS (
  SELECT msg.ord, msg.tenant_id, msg.id, r.user_id, ins.expires_at
  FROM (SELECT ord, user_id FROM given
        UNION
        SELECT msg.ord, gm.user_id FROM msg
        JOIN group_members gm ON gm.tenant_id = msg.tenant_id AND gm.group_id = msg.group_id
        WHERE msg.fanout = 'inline') r
  JOIN msg ON msg.ord = r.ord
  JOIN ins ON ins.id = msg.id
), obx AS (
  INSERT INTO outbox (tenant_id, message_id, group_id, members, total)
  SELECT msg.tenant_id, msg.id, msg.group_id, m.members, cardinality(m.members)
  FROM msg JOIN ins ON ins.id = msg.id
  CROSS JOIN LATERAL (SELECT ARRAY(
    SELECT gm.user_id FROM group_members gm
    WHERE gm.tenant_id = msg.tenant_id AND gm.group_id = msg.group_id
      AND NOT EXISTS (SELECT 1 FROM given WHERE given.ord = msg.ord AND given.user_id = gm.user_id)
    ORDER BY gm.user_id COLLATE "C") AS members) m
  WHERE msg.fanout = 'queued'
  RETURNING message_id, total
), cnt AS (
  SELECT tenant_id, user_id, count(*) AS n FROM rcp GROUP BY tenant_id, user_id
), heads AS (
  INSERT INTO inboxes AS ib (tenant_id, user_id, head_seq)
  SELECT tenant_id, user_id, n FROM cnt ORDER BY tenant_id COLLATE "C", user_id COLLATE "C"
  ON CONFLICT (tenant_id, user_id) DO UPDATE SET head_seq = ib.head_seq + EXCLUDED.head_seq
  RETURNING tenant_id, user_id, head_seq
), seqd AS (
  -- The new head minus this batch's entries of the user, plus the entry's rank: the k seqs of a
  -- user are head-k+1 .. head in batch order. Windows over the union of recipients and heads
  -- rather than a join: the planner cannot estimate CTE sizes and would nest-loop two 1,000-row
  -- CTEs (a million comparisons for one group publish); one sort does it in n log n.
  SELECT ord, tenant_id, user_id, id, expires_at, seq FROM (
    SELECT ord, tenant_id, user_id, id, expires_at,
           max(head) OVER w - count(ord) OVER w + row_number() OVER (w ORDER BY ord) AS seq
    FROM (SELECT ord, tenant_id, user_id, id, expires_at, NULL::bigint AS head FROM rcp
          UNION ALL
          SELECT NULL, tenant_id, user_id, NULL, NULL, head_seq FROM heads) u
    WINDOW w AS (PARTITION BY tenant_id, user_id)
  ) x WHERE ord IS NOT NULL), ent AS (
  INSERT INTO inbox_entries (tenant_id, user_id, seq, message_id, expires_at)
  SELECT tenant_id, user_id, seq, id, expires_at FROM seqd
), note AS (
  SELECT pg_notify('mailslot', 'w|' || tenant_id || '|' || string_agg(user_id || '|' || head_seq, '|') || '|@' || $13::text)
  FROM (SELECT tenant_id, user_id, head_seq,
               (row_number() OVER (PARTITION BY tenant_id ORDER BY user_id) - 1) / 40 AS chunk
        FROM heads) h
  GROUP BY tenant_id, chunk
)
SELECT msg.ord::int AS ord, m.created_at, m.expires_at, obx.total AS queued, m.body, s.seqs,
       (SELECT count(*) FROM note) AS notified
FROM msg JOIN ins m ON m.id = msg.id
LEFT JOIN obx ON obx.message_id = msg.id
LEFT JOIN (SELECT ord, string_agg(user_id || '|' || seq, '|') AS seqs FROM seqd GROUP BY ord) s ON s.ord = msg.ord`;

/**
 * Stores messages in one transaction (the statement is its own transaction when `db` is a pool).
 * Returns, per input index, the stored result, or null where the dedupId already existed.
 */
export async function insertMessages(db: Queryable, batch: readonly NewMessage[], origin = ''): Promise<(StoredMessage | null)[]> {
  const rOrd: number[] = [];
  const rUser: string[] = [];
  batch.forEach((m, i) => {
    for (const u of m.recipients) {
      rOrd.push(i + 1);
      rUser.push(u);
    }
  });
  const { rows } = await db.query<{ ord: number; created_at: Date; expires_at: Date; queued: number | null; body: string; seqs: string | null }>({
    name: 'publish_batch',
    text: PUBLISH_BATCH_SQL,
    values: [
      batch.map((m) => m.tenantId), batch.map((m) => m.id), batch.map((m) => m.sender), batch.map((m) => m.groupId),
      batch.map((m) => m.type), batch.map((m) => m.payloadJson), batch.map((m) => m.dedupId), batch.map((m) => m.reqHash),
      batch.map((m) => m.ttlS), rOrd, rUser, batch.map((m) => m.fanout), origin,
    ],
  });
  const out: (StoredMessage | null)[] = batch.map(() => null);
  for (const r of rows) {
    out[r.ord - 1] = { createdAt: r.created_at, expiresAt: r.expires_at, seqs: parseSeqs(r.seqs), queued: r.queued, body: r.body };
  }
  return out;
}

/**
 * `user|seq|user|seq…` (ids never contain '|'): one text per message rather than a row per
 * recipient, which for a group of 1,000 saved parsing 1,000 rows and 2,000 timestamps.
 */
function parseSeqs(text: string | null): Record<string, number> {
  // No prototype: a user may be called "__proto__" (its seq would silently not be set).
  const seqs = Object.create(null) as Record<string, number>;
  if (!text) return seqs;
  const f = text.split('|');
  for (let i = 0; i + 1 < f.length; i += 2) seqs[f[i]!] = Number(f[i + 1]);
  return seqs;
}

export interface ExistingMessage {
  id: string;
  reqHash: Buffer | null;
  createdAt: Date;
  expiresAt: Date;
  seqs: Record<string, number>;
  /** The message was fanned out by the outbox (its first answer was 202). */
  queued: boolean;
}

/** The message already stored under (tenant, sender, dedupId), with its recipients' seqs. */
export async function findByDedup(db: Queryable, tenantId: string, sender: string, dedupId: string): Promise<ExistingMessage | null> {
  // A queued message answered with the sender's copy only the first time: so does its repeat.
  const { rows } = await db.query<{ id: string; req_hash: Buffer | null; created_at: Date; expires_at: Date; seqs: Record<string, number> | null; queued: boolean }>({
    name: 'find_by_dedup',
    text: `SELECT m.id, m.req_hash, m.created_at, m.expires_at, o.queued,
                  (SELECT json_object_agg(e.user_id, e.seq) FROM inbox_entries e
                    WHERE e.tenant_id = m.tenant_id AND e.message_id = m.id AND (NOT o.queued OR e.user_id = m.sender)) AS seqs
           FROM messages m
           CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM outbox x WHERE x.tenant_id = m.tenant_id AND x.message_id = m.id) AS queued) o
           WHERE m.tenant_id = $1 AND m.sender = $2 AND m.dedup_id = $3`,
    values: [tenantId, sender, dedupId],
  });
  const r = rows[0];
  return r ? { id: r.id, reqHash: r.req_hash, createdAt: r.created_at, expiresAt: r.expires_at, seqs: r.seqs ?? {}, queued: r.queued } : null;
}
