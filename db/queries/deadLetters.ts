// Dead letters: ranges a device never acknowledged after every re-offer (written by the
// compensation scan, db/queries/delivery.ts), listed, retried and discarded by operators.
import type { Queryable } from '../pool.ts';
import { CHANNEL } from '../listen.ts';

export type DeadLetterState = 'open' | 'retried' | 'discarded' | 'acked';

export interface DeadLetter {
  id: number;
  userId: string;
  deviceId: string;
  fromSeq: number;
  toSeq: number;
  attempts: number;
  reason: string;
  createdAt: Date;
  state: DeadLetterState;
  resolvedAt: Date | null;
}

interface Row {
  id: number;
  user_id: string;
  device_id: string;
  from_seq: number;
  to_seq: number;
  attempts: number;
  reason: string;
  created_at: Date;
  state: DeadLetterState;
  resolved_at: Date | null;
}

const COLUMNS = 'id, user_id, device_id, from_seq, to_seq, attempts, reason, created_at, state, resolved_at';

const toLetter = (r: Row): DeadLetter => ({
  id: r.id, userId: r.user_id, deviceId: r.device_id, fromSeq: r.from_seq, toSeq: r.to_seq, attempts: r.attempts,
  reason: r.reason, createdAt: r.created_at, state: r.state, resolvedAt: r.resolved_at,
});

/** Dead letters whose seq range covers this message's seq in its recipient's inbox (the trace). */
export async function deadLettersOf(db: Queryable, tenantId: string, messageId: string): Promise<DeadLetter[]> {
  const { rows } = await db.query<Row>({
    name: 'dead_letters_of',
    text: `SELECT ${COLUMNS.split(', ').map((c) => `d.${c}`).join(', ')}
           FROM inbox_entries e JOIN dead_letters d ON d.tenant_id = e.tenant_id AND d.user_id = e.user_id
             AND e.seq BETWEEN d.from_seq AND d.to_seq
           WHERE e.tenant_id = $1 AND e.message_id = $2 ORDER BY d.created_at DESC LIMIT 1000`,
    values: [tenantId, messageId],
  });
  return rows.map(toLetter);
}

/** One tenant's dead letters, newest first; `state` null lists every state. */
export async function listDeadLetters(db: Queryable, tenantId: string, state: DeadLetterState | null, limit: number): Promise<DeadLetter[]> {
  const { rows } = await db.query<Row>({
    name: 'list_dead_letters',
    text: `SELECT ${COLUMNS} FROM dead_letters
           WHERE tenant_id = $1 AND ($2::text IS NULL OR state = $2) ORDER BY created_at DESC, id DESC LIMIT $3`,
    values: [tenantId, state, limit],
  });
  return rows.map(toLetter);
}

export async function findDeadLetter(db: Queryable, tenantId: string, id: number): Promise<DeadLetter | null> {
  const { rows } = await db.query<Row>({
    name: 'find_dead_letter',
    text: `SELECT ${COLUMNS} FROM dead_letters WHERE tenant_id = $1 AND id = $2`,
    values: [tenantId, id],
  });
  return rows[0] ? toLetter(rows[0]) : null;
}

export async function countOpenDeadLetters(db: Queryable, tenantId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>({
    name: 'count_open_dead_letters',
    text: `SELECT count(*) AS n FROM dead_letters WHERE tenant_id = $1 AND state = 'open'`,
    values: [tenantId],
  });
  return rows[0]!.n;
}

/**
 * Re-arms delivery of an open letter: the device is back online with no attempts and a fresh
 * clock, and is re-offered at once (the NOTIFY goes out at commit). Null when no open letter has
 * that id.
 */
export async function retryDeadLetter(db: Queryable, tenantId: string, id: number): Promise<DeadLetter | null> {
  const { rows } = await db.query<Row>({
    name: 'retry_dead_letter',
    text: `WITH l AS (
             UPDATE dead_letters SET state = 'retried', resolved_at = now()
             WHERE tenant_id = $1 AND id = $2 AND state = 'open' RETURNING *
           ), dev AS (
             UPDATE devices d SET offline_since = NULL, offer_attempts = 0, last_offer_at = NULL, next_offer_at = NULL,
               offer_acked = d.acked_seq, delivered_at = now()
             FROM l WHERE d.tenant_id = l.tenant_id AND d.user_id = l.user_id AND d.device_id = l.device_id
             RETURNING d.tenant_id, d.user_id, d.device_id, d.acked_seq
           ), note AS (
             SELECT pg_notify($3, 'o|' || tenant_id || '|' || user_id || '|' || device_id || '|' || acked_seq) FROM dev
           )
           SELECT ${COLUMNS}, (SELECT count(*) FROM note) AS notified FROM l`,
    values: [tenantId, id, CHANNEL],
  });
  return rows[0] ? toLetter(rows[0]) : null;
}

/**
 * Acknowledges an open letter's range away: the device cursor moves to to_seq (never back) and the
 * device is online again with a fresh clock. Null when no open letter has that id.
 */
export async function discardDeadLetter(db: Queryable, tenantId: string, id: number): Promise<DeadLetter | null> {
  const { rows } = await db.query<Row>({
    name: 'discard_dead_letter',
    text: `WITH l AS (
             UPDATE dead_letters SET state = 'discarded', resolved_at = now()
             WHERE tenant_id = $1 AND id = $2 AND state = 'open' RETURNING *
           ), dev AS (
             UPDATE devices d SET acked_seq = GREATEST(d.acked_seq, l.to_seq), offer_acked = GREATEST(d.acked_seq, l.to_seq),
               offline_since = NULL, offer_attempts = 0, last_offer_at = NULL, next_offer_at = NULL, delivered_at = now()
             FROM l WHERE d.tenant_id = l.tenant_id AND d.user_id = l.user_id AND d.device_id = l.device_id
             RETURNING d.acked_seq
           )
           SELECT ${COLUMNS}, (SELECT count(*) FROM dev) AS moved FROM l`,
    values: [tenantId, id],
  });
  return rows[0] ? toLetter(rows[0]) : null;
}
