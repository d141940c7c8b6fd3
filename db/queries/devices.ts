// Devices, the read marker and receipts: what the user's devices and the sender can see about
// delivery state.
import type { Queryable } from '../pool.ts';
import { CHANNEL } from '../listen.ts';
import { MESSAGE_BODY_JSON } from './messageJson.ts';
import { lockDevicesInOrder } from './lockOrder.ts';

export interface DeviceRow {
  device: string;
  cursor: number;
  lastSeen: Date;
  /** Seen within the online window (by any instance). */
  recent: boolean;
}

export async function listDevices(db: Queryable, tenantId: string, userId: string, windowS: number): Promise<DeviceRow[]> {
  const { rows } = await db.query<{ device_id: string; acked_seq: number; last_seen: Date; recent: boolean }>({
    name: 'list_devices',
    text: `SELECT device_id, acked_seq, last_seen, last_seen >= now() - make_interval(secs => $3) AS recent
           FROM devices WHERE tenant_id = $1 AND user_id = $2 ORDER BY device_id COLLATE "C"`,
    values: [tenantId, userId, windowS],
  });
  return rows.map((r) => ({ device: r.device_id, cursor: r.acked_seq, lastSeen: r.last_seen, recent: r.recent }));
}

/**
 * Refreshes last_seen of devices holding a poll or stream on this instance, so that other
 * instances see them online. One statement per tenant; asynchronous commit (a lost refresh
 * only makes a device look idle a little early).
 */
export async function touchDevices(db: Queryable, tenantId: string, users: readonly string[], devices: readonly string[]): Promise<void> {
  await db.query({
    name: 'touch_devices',
    text: `WITH lazy AS (SELECT set_config('synchronous_commit', 'off', true)),
           locked AS MATERIALIZED (${lockDevicesInOrder(false)})
           UPDATE devices d SET last_seen = now()
           FROM locked l, lazy
           WHERE d.tenant_id = $1 AND d.user_id = l.user_id AND d.device_id = l.device_id`,
    values: [tenantId, users, devices],
  });
}

/**
 * Moves device cursors forward (never back): polls acknowledging their `since` without a start
 * statement (app/services/pollAcks.ts). Asynchronous commit, as the start statement's. Returns how
 * many entries became acknowledged.
 */
export async function ackDevices(db: Queryable, tenantId: string, users: readonly string[], devices: readonly string[], seqs: readonly number[]): Promise<number> {
  const { rows } = await db.query<{ newly: string }>({
    name: 'ack_devices',
    text: `WITH lazy AS (SELECT set_config('synchronous_commit', 'off', true)),
           locked AS MATERIALIZED (${lockDevicesInOrder(true, 'AND d.acked_seq < v.seq', ['acked_seq'])}),
           upd AS (
             UPDATE devices d SET acked_seq = l.seq, last_seen = now()
             FROM locked l, lazy
             WHERE d.tenant_id = $1 AND d.user_id = l.user_id AND d.device_id = l.device_id AND l.seq > d.acked_seq
             RETURNING l.seq - l.acked_seq AS newly)
           SELECT COALESCE(sum(newly), 0) AS newly FROM upd`,
    values: [tenantId, users, devices, seqs],
  });
  return Number(rows[0]!.newly);
}

/**
 * Moves the user's read marker forward (never back) and, when it moved, tells the user's other
 * devices through `r|tenant|user|seq|device` (sent at commit). Null: seq beyond the head.
 */
export async function markRead(db: Queryable, tenantId: string, userId: string, deviceId: string, seq: number): Promise<number | null> {
  const { rows } = await db.query<{ head: number; moved: number | null; read: number | null }>({
    name: 'mark_read',
    text: `WITH cur AS (SELECT head_seq, read_seq FROM inboxes WHERE tenant_id = $1 AND user_id = $2),
           upd AS (
             UPDATE inboxes SET read_seq = $3 WHERE tenant_id = $1 AND user_id = $2 AND read_seq < $3 AND head_seq >= $3
             RETURNING read_seq),
           note AS (SELECT pg_notify($5, 'r|' || $1::text || '|' || $2::text || '|' || read_seq || '|' || $4::text) FROM upd)
           SELECT COALESCE((SELECT head_seq FROM cur), 0) AS head, (SELECT read_seq FROM upd) AS moved,
                  (SELECT read_seq FROM cur) AS read,
                  (SELECT count(*) FROM note) AS notified`,
    values: [tenantId, userId, seq, deviceId, CHANNEL],
  });
  const r = rows[0]!;
  // `upd` sees the newest head (it waited for the row lock); `cur` the statement's snapshot.
  if (r.moved !== null) return r.moved;
  if (seq > r.head) return null;
  return r.read ?? 0;
}

export interface MessageRef {
  sender: string;
  /** The message as JSON text (messages.body). */
  body: string;
}

export async function findMessage(db: Queryable, tenantId: string, messageId: string): Promise<MessageRef | null> {
  const { rows } = await db.query<{ sender: string; body: string }>({
    name: 'find_message',
    text: `SELECT m.sender, ${MESSAGE_BODY_JSON} AS body FROM messages m WHERE m.tenant_id = $1 AND m.id = $2`,
    values: [tenantId, messageId],
  });
  return rows[0] ?? null;
}

export interface Receipt {
  user: string;
  seq: number;
  delivered: boolean;
  read: boolean;
}

/**
 * Per recipient: delivered = some device acknowledged the entry's seq; read = the read marker
 * reached it. Paged by user id (a large group has many recipients). Served by the unique index
 * (tenant_id, message_id, user_id) on inbox_entries. The page start is a plain bound (user ids are
 * never empty): under a generic plan, "$3 IS NULL OR user_id > $3" could only filter, reading every
 * earlier receipt again for each page.
 */
export async function receipts(db: Queryable, tenantId: string, messageId: string, afterUser: string | null, limit: number): Promise<Receipt[]> {
  const { rows } = await db.query<Receipt>({
    name: 'receipts',
    text: `SELECT e.user_id AS "user", e.seq,
                  EXISTS (SELECT 1 FROM devices d WHERE d.tenant_id = e.tenant_id AND d.user_id = e.user_id AND d.acked_seq >= e.seq) AS delivered,
                  COALESCE(ib.read_seq >= e.seq, false) AS read
           FROM inbox_entries e
           LEFT JOIN inboxes ib ON ib.tenant_id = e.tenant_id AND ib.user_id = e.user_id
           WHERE e.tenant_id = $1 AND e.message_id = $2 AND e.user_id > COALESCE($3::text, '')
           ORDER BY e.user_id LIMIT $4`,
    values: [tenantId, messageId, afterUser, limit],
  });
  return rows;
}
