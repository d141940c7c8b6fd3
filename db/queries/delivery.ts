// What was written to which device, and the compensation scan over it: devices holding entries
// delivered but not acknowledged past the deadline are re-offered with exponential backoff, then
// dead-lettered. Columns are described in migrations/004_jobs.sql.
import type { Queryable } from '../pool.ts';
import { CHANNEL } from '../listen.ts';
import { lockDevicesInOrder } from './lockOrder.ts';

/**
 * Records the highest seq written to devices of one tenant (a hint: committed asynchronously).
 * When nothing was outstanding before, this delivery opens a new window: its clock starts now,
 * from the device's current cursor, with no attempts yet.
 */
export async function noteDelivered(db: Queryable, tenantId: string, users: readonly string[], devices: readonly string[], seqs: readonly number[]): Promise<void> {
  await db.query({
    name: 'note_delivered',
    text: `WITH lazy AS (SELECT set_config('synchronous_commit', 'off', true)),
           locked AS MATERIALIZED (${lockDevicesInOrder(true, 'AND d.delivered_seq < v.seq')})
           UPDATE devices d SET
             delivered_seq = l.seq,
             delivered_at = CASE WHEN d.delivered_seq <= d.acked_seq THEN now() ELSE d.delivered_at END,
             offer_acked = CASE WHEN d.delivered_seq <= d.acked_seq THEN d.acked_seq ELSE d.offer_acked END,
             offer_attempts = CASE WHEN d.delivered_seq <= d.acked_seq THEN 0 ELSE d.offer_attempts END,
             next_offer_at = CASE WHEN d.delivered_seq <= d.acked_seq THEN NULL ELSE d.next_offer_at END
           FROM locked l, lazy
           WHERE d.tenant_id = $1 AND d.user_id = l.user_id AND d.device_id = l.device_id AND l.seq > d.delivered_seq`,
    values: [tenantId, users, devices, seqs],
  });
}

/** Open dead letters whose device has since acknowledged past the range: nothing is left to do. */
export async function closeAckedDeadLetters(db: Queryable): Promise<number> {
  const { rowCount } = await db.query({
    name: 'close_acked_dead_letters',
    text: `UPDATE dead_letters l SET state = 'acked', resolved_at = now()
           FROM devices d
           WHERE l.state = 'open' AND d.tenant_id = l.tenant_id AND d.user_id = l.user_id AND d.device_id = l.device_id
             AND d.acked_seq >= l.to_seq`,
  });
  return rowCount ?? 0;
}

/**
 * Devices whose cursor moved since their window (or last re-offer) began are making progress, not
 * stuck: restart their clock from now and the new cursor, forget attempts, bring them back online.
 * At most `limit` devices per call.
 */
export async function restartProgressing(db: Queryable, limit: number): Promise<number> {
  const { rowCount } = await db.query({
    name: 'restart_progressing',
    text: `WITH p AS (
             SELECT tenant_id, user_id, device_id FROM devices
             WHERE acked_seq > offer_acked AND (delivered_seq > acked_seq OR offline_since IS NOT NULL OR offer_attempts > 0)
             LIMIT $1 FOR UPDATE SKIP LOCKED)
           UPDATE devices d SET offer_acked = d.acked_seq, delivered_at = now(), offer_attempts = 0,
             last_offer_at = NULL, next_offer_at = NULL, offline_since = NULL
           FROM p WHERE d.tenant_id = p.tenant_id AND d.user_id = p.user_id AND d.device_id = p.device_id`,
    values: [limit],
  });
  return rowCount ?? 0;
}

export interface Backoff {
  deadlineS: number;
  baseS: number;
  factor: number;
  maxAttempts: number;
}

export interface OfferResult {
  /** Devices re-offered (one NOTIFY each: `o|tenant|user|device|acked`). */
  offered: number;
  /** Devices dead-lettered and marked offline. */
  dead: number;
}

// Due: something delivered is unacknowledged, the cursor has not moved, and the deadline (first
// time) or the backoff (later) has passed. Below the last attempt, re-offer and push the next time
// out by base * factor^attempts (capped at a week); at it, write the dead letter and go offline
// (next_offer_at then stays as the time the last wait ended, for operators).
// The NOTIFY is sent at commit, so a stream never rewinds for a re-offer that did not happen.
const OFFER_DUE_SQL = `
WITH due AS (
  SELECT tenant_id, user_id, device_id FROM devices
  WHERE delivered_seq > acked_seq AND acked_seq <= offer_acked AND offline_since IS NULL
    AND COALESCE(next_offer_at, delivered_at + make_interval(secs => $1::float8)) <= now()
  LIMIT $2 FOR UPDATE SKIP LOCKED
), upd AS (
  UPDATE devices d SET
    offer_attempts = d.offer_attempts + CASE WHEN d.offer_attempts < $5 THEN 1 ELSE 0 END,
    last_offer_at = CASE WHEN d.offer_attempts < $5 THEN now() ELSE d.last_offer_at END,
    next_offer_at = CASE WHEN d.offer_attempts < $5
                         THEN now() + make_interval(secs => LEAST($3::float8 * power($4::float8, d.offer_attempts), 604800))
                         ELSE d.next_offer_at END,
    offline_since = CASE WHEN d.offer_attempts >= $5 THEN now() END
  FROM due WHERE d.tenant_id = due.tenant_id AND d.user_id = due.user_id AND d.device_id = due.device_id
  RETURNING d.tenant_id, d.user_id, d.device_id, d.acked_seq, d.delivered_seq, d.offer_attempts, d.offline_since IS NOT NULL AS dead
), dl AS (
  INSERT INTO dead_letters (tenant_id, user_id, device_id, from_seq, to_seq, attempts, reason)
  SELECT tenant_id, user_id, device_id, acked_seq + 1, delivered_seq, offer_attempts, $6 FROM upd WHERE dead
  RETURNING id
), note AS (
  SELECT pg_notify($7, 'o|' || tenant_id || '|' || user_id || '|' || device_id || '|' || acked_seq) FROM upd WHERE NOT dead
)
SELECT (SELECT count(*) FROM upd WHERE NOT dead) AS offered, (SELECT count(*) FROM dl) AS dead, (SELECT count(*) FROM note) AS notified`;

export async function offerDue(db: Queryable, b: Backoff, limit: number, reason: string): Promise<OfferResult> {
  const { rows } = await db.query<{ offered: number; dead: number }>({
    name: 'offer_due',
    text: OFFER_DUE_SQL,
    values: [b.deadlineS, limit, b.baseS, b.factor, b.maxAttempts, reason, CHANNEL],
  });
  return { offered: rows[0]!.offered, dead: rows[0]!.dead };
}
