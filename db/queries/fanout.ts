// The outbox of large-group fan-outs: claiming a batch of members, writing their entries, moving
// the cursor, and finding rows whose job was lost.
import type { Queryable } from '../pool.ts';
import { CHANNEL } from '../listen.ts';

export interface OutboxBatch {
  state: 'pending' | 'done' | 'expired';
  total: number;
  done: number;
  /** members[from .. from+size) of the snapshot. */
  users: string[];
  /** Null when the message itself is gone (expired and cleaned up before the fan-out finished). */
  expiresAt: Date | null;
}

/**
 * Locks the outbox row (every writer of this message's entries holds it, so runs of the same
 * fan-out are serialised) and returns the slice of members starting at `from` (0-based).
 */
export async function lockOutboxBatch(db: Queryable, tenantId: string, messageId: string, from: number | null, size: number): Promise<OutboxBatch | null> {
  const { rows } = await db.query<{ state: OutboxBatch['state']; total: number; done: number; users: string[]; expires_at: Date | null }>({
    name: 'lock_outbox_batch',
    text: `SELECT o.state, o.total, o.done, o.members[COALESCE($3::int, o.done) + 1 : COALESCE($3::int, o.done) + $4] AS users,
                  (SELECT m.expires_at FROM messages m WHERE m.tenant_id = o.tenant_id AND m.id = o.message_id) AS expires_at
           FROM outbox o WHERE o.tenant_id = $1 AND o.message_id = $2 FOR UPDATE`,
    values: [tenantId, messageId, from, size],
  });
  const r = rows[0];
  return r ? { state: r.state, total: r.total, done: r.done, users: r.users ?? [], expiresAt: r.expires_at } : null;
}

// One batch of the fan-out. Idempotent: users who already hold an entry of this message are
// left out BEFORE their inbox head moves, so a repeated batch writes nothing and consumes no seq.
// (ON CONFLICT DO NOTHING on the entry alone would not do: the head would already have advanced,
// leaving a gap.) The existence check is sound because the caller holds the outbox row lock, and
// only holders of that lock write entries of this message. Inboxes are locked in the global
// order (tenant, user COLLATE "C") shared with the publish statement: no deadlock between them.
// The unique index (tenant_id, message_id, user_id) stays the last word: a violation aborts the
// batch rather than writing a duplicate.
const FANOUT_BATCH_SQL = `
WITH missing AS (
  SELECT DISTINCT u.user_id FROM unnest($3::text[]) AS u(user_id)
  WHERE NOT EXISTS (SELECT 1 FROM inbox_entries e WHERE e.tenant_id = $1 AND e.message_id = $2 AND e.user_id = u.user_id)
), heads AS (
  INSERT INTO inboxes AS ib (tenant_id, user_id, head_seq)
  SELECT $1, user_id, 1 FROM missing ORDER BY user_id COLLATE "C"
  ON CONFLICT (tenant_id, user_id) DO UPDATE SET head_seq = ib.head_seq + 1
  RETURNING user_id, head_seq
), ent AS (
  INSERT INTO inbox_entries (tenant_id, user_id, seq, message_id, expires_at)
  SELECT $1, user_id, head_seq, $2, $4 FROM heads
), note AS (
  SELECT pg_notify($5, 'w|' || $1::text || '|' || string_agg(user_id || '|' || head_seq, '|'))
  FROM (SELECT user_id, head_seq, (row_number() OVER (ORDER BY user_id) - 1) / 40 AS chunk FROM heads) h
  GROUP BY chunk
)
SELECT (SELECT count(*) FROM heads) AS written, (SELECT count(*) FROM note) AS notified`;

/** Writes the entries of one batch; returns how many were new. Call holding the outbox lock. */
export async function writeFanoutBatch(db: Queryable, tenantId: string, messageId: string, users: readonly string[], expiresAt: Date): Promise<number> {
  const { rows } = await db.query<{ written: number }>({
    name: 'fanout_batch',
    text: FANOUT_BATCH_SQL,
    values: [tenantId, messageId, users, expiresAt, CHANNEL],
  });
  return rows[0]!.written;
}

/** Moves the cursor (never back); the finished row drops its member snapshot, which is no longer needed. */
export async function advanceOutbox(db: Queryable, tenantId: string, messageId: string, upTo: number): Promise<{ done: number; state: string }> {
  const { rows } = await db.query<{ done: number; state: string }>({
    name: 'advance_outbox',
    text: `UPDATE outbox SET done = GREATEST(done, LEAST($3::int, total)), updated_at = now(),
             state = CASE WHEN GREATEST(done, $3::int) >= total THEN 'done' ELSE state END,
             -- clock_timestamp: when the last entries were written, not when the batch began (metrics).
             finished_at = CASE WHEN GREATEST(done, $3::int) >= total THEN clock_timestamp() ELSE finished_at END,
             members = CASE WHEN GREATEST(done, $3::int) >= total THEN '{}' ELSE members END
           WHERE tenant_id = $1 AND message_id = $2 RETURNING done, state`,
    values: [tenantId, messageId, upTo],
  });
  return rows[0]!;
}

/** The message expired before its fan-out finished: nothing more to deliver. */
export async function expireOutbox(db: Queryable, tenantId: string, messageId: string): Promise<void> {
  await db.query({
    name: 'expire_outbox',
    text: `UPDATE outbox SET state = 'expired', members = '{}', updated_at = now(), finished_at = now()
           WHERE tenant_id = $1 AND message_id = $2 AND state = 'pending'`,
    values: [tenantId, messageId],
  });
}

/** A run starts (or failed): counts the attempt and keeps the last error for operators. */
export async function noteOutboxAttempt(db: Queryable, tenantId: string, messageId: string, error: string | null): Promise<void> {
  await db.query({
    name: 'note_outbox_attempt',
    text: `UPDATE outbox SET attempts = attempts + CASE WHEN $3::text IS NULL THEN 1 ELSE 0 END,
             last_error = COALESCE($3::text, last_error), updated_at = now()
           WHERE tenant_id = $1 AND message_id = $2`,
    values: [tenantId, messageId, error],
  });
}

/**
 * Claims pending rows untouched for `olderThanMs` (their job was lost, or its process died) by
 * touching them, so the next scan does not claim them again at once. SKIP LOCKED passes over rows
 * a live batch holds: those are not stuck.
 */
export async function claimStuckOutbox(db: Queryable, olderThanMs: number, limit: number): Promise<{ tenantId: string; messageId: string }[]> {
  const { rows } = await db.query<{ tenant_id: string; message_id: string }>({
    name: 'claim_stuck_outbox',
    text: `UPDATE outbox o SET updated_at = now()
           FROM (SELECT tenant_id, message_id FROM outbox
                 WHERE state = 'pending' AND updated_at < now() - make_interval(secs => $1::float8 / 1000)
                 ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED) s
           WHERE o.tenant_id = s.tenant_id AND o.message_id = s.message_id
           RETURNING o.tenant_id, o.message_id`,
    values: [olderThanMs, limit],
  });
  return rows.map((r) => ({ tenantId: r.tenant_id, messageId: r.message_id }));
}

export interface OutboxState {
  state: string;
  total: number;
  done: number;
  attempts: number;
}

export async function outboxState(db: Queryable, tenantId: string, messageId: string): Promise<OutboxState | null> {
  const { rows } = await db.query<OutboxState>({
    name: 'outbox_state',
    text: 'SELECT state, total, done, attempts FROM outbox WHERE tenant_id = $1 AND message_id = $2',
    values: [tenantId, messageId],
  });
  return rows[0] ?? null;
}
