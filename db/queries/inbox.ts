// Reading inboxes: entries after a cursor (batched over many users), message bodies, inbox state,
// device cursors, and history with payload containment.
import type { Queryable } from '../pool.ts';
import { MESSAGE_BODY_JSON } from './messageJson.ts';

export interface EntryRef {
  /** Index of the request row (users[i]) this entry answers. */
  row: number;
  userId: string;
  seq: number;
  messageId: string;
}

/**
 * Entries with seq > since for many users of one tenant in one round trip: a wake-up that concerns
 * a thousand waiters costs one query, not a thousand. Row i gets at most limits[i] entries.
 */
export async function readEntries(
  db: Queryable, tenantId: string, users: readonly string[], sinces: readonly number[], limits: readonly number[],
): Promise<EntryRef[]> {
  const { rows } = await db.query<{ ord: string; user_id: string; seq: number; message_id: string }>({
    name: 'read_entries',
    text: `SELECT w.ord, w.user_id, e.seq, e.message_id
           FROM unnest($2::text[], $3::bigint[], $4::int[]) WITH ORDINALITY AS w(user_id, since, lim, ord)
           CROSS JOIN LATERAL (
             SELECT seq, message_id FROM inbox_entries e
             WHERE e.tenant_id = $1 AND e.user_id = w.user_id AND e.seq > w.since
             ORDER BY e.seq LIMIT w.lim) e
           ORDER BY w.ord, e.seq`,
    values: [tenantId, users, sinces, limits],
  });
  return rows.map((r) => ({ row: Number(r.ord) - 1, userId: r.user_id, seq: r.seq, messageId: r.message_id }));
}

/**
 * Entries with seq > since of one user, with their message bodies (JSON text without seq), in one
 * round trip: a lone reader (a poll page, a stream catching up) needs no body cache. An entry whose
 * message expired meanwhile is left out by the join.
 */
export async function readPage(db: Queryable, tenantId: string, userId: string, since: number, limit: number): Promise<{ seq: number; body: string }[]> {
  const { rows } = await db.query<{ seq: number; body: string }>({
    name: 'read_page',
    text: `SELECT e.seq, ${MESSAGE_BODY_JSON} AS body
           FROM inbox_entries e JOIN messages m ON m.tenant_id = e.tenant_id AND m.id = e.message_id
           WHERE e.tenant_id = $1 AND e.user_id = $2 AND e.seq > $3
           ORDER BY e.seq LIMIT $4`,
    values: [tenantId, userId, since, limit],
  });
  return rows;
}

/** Message bodies as JSON text (without seq), by id. */
export async function readBodies(db: Queryable, tenantId: string, ids: readonly string[]): Promise<Map<string, string>> {
  const { rows } = await db.query<{ id: string; body: string }>({
    name: 'read_bodies',
    text: `SELECT m.id, ${MESSAGE_BODY_JSON} AS body FROM messages m WHERE m.tenant_id = $1 AND m.id = ANY($2::uuid[])`,
    values: [tenantId, ids],
  });
  return new Map(rows.map((r) => [r.id, r.body]));
}

export interface InboxState {
  head: number;
  read: number;
  /** Every seq <= floor has expired; the oldest retained seq is floor + 1. */
  floor: number;
}

export interface DeviceState extends InboxState {
  acked: number;
  /** The cursor before this statement (the retention floor for a new device): acked - prev were newly acknowledged. */
  prev: number;
}

/** One device a poll or stream is starting for; `ack` moves its cursor (null: only marks it seen). */
export interface Touch {
  userId: string;
  deviceId: string;
  ack: number | null;
}

/**
 * Marks devices of one tenant seen (creating each at its inbox's retention floor the first time)
 * and, where `ack` is given and not beyond the head, moves the cursor forward. Returns, in input
 * order, each inbox's state with the device's cursor before and after. Polls and streams starting
 * together (a reconnect storm after a restart) share one statement. A device may appear once per
 * call (one row cannot be updated twice by one statement); rows are locked in (user, device) order.
 * Committed asynchronously (synchronous_commit off): a cursor lost in a crash only means a
 * redelivery, which at-least-once allows, and a poll should not wait for a disk flush. Inboxes are
 * looked up row by row (LATERAL; LIMIT 1 keeps the planner from flattening it): with a plain
 * join, the generic plan hashed the request and scanned the tenant's whole inbox partition (0.5 of
 * 0.8 ms with 3,000 inboxes, growing with them). An existing device finds its acknowledgement in a
 * map built once (`acks`: user → device → seq, null when not valid) rather than by scanning the
 * request for its row, which made 1,000 existing devices cost ~87 ms (a reconnect storm).
 */
export async function startDevices(db: Queryable, tenantId: string, touches: readonly Touch[]): Promise<DeviceState[]> {
  const { rows } = await db.query<{ ord: number; head: number; rd: number; fl: number; acked: number; prev: number | null }>({
    name: 'start_devices',
    text: `WITH lazy AS (SELECT set_config('synchronous_commit', 'off', true)),
           req AS (SELECT * FROM unnest($2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS r(user_id, device_id, ack, ord)),
           st AS (SELECT r.ord, r.user_id, r.device_id, r.ack,
                         COALESCE(ib.head_seq, 0) AS head, COALESCE(ib.read_seq, 0) AS rd, COALESCE(ib.floor_seq, 0) AS fl
                  FROM req r LEFT JOIN LATERAL (
                    SELECT head_seq, read_seq, floor_seq FROM inboxes WHERE tenant_id = $1 AND user_id = r.user_id LIMIT 1) ib ON true),
           acks AS (
             SELECT jsonb_object_agg(user_id, byd) AS m FROM (
               SELECT user_id, jsonb_object_agg(device_id, CASE WHEN ack <= head THEN ack END) AS byd FROM st GROUP BY user_id) x),
           dev AS (
             INSERT INTO devices AS d (tenant_id, user_id, device_id, acked_seq, last_seen)
             SELECT $1, st.user_id, st.device_id, CASE WHEN st.ack BETWEEN st.fl AND st.head THEN st.ack ELSE st.fl END, now()
             FROM st ORDER BY st.user_id COLLATE "C", st.device_id COLLATE "C"
             ON CONFLICT (tenant_id, user_id, device_id) DO UPDATE SET last_seen = now(),
               acked_seq = GREATEST(d.acked_seq, ((SELECT m FROM acks) -> d.user_id ->> d.device_id)::bigint)
             RETURNING user_id, device_id, acked_seq)
           SELECT st.ord::int AS ord, st.head, st.rd, st.fl, dev.acked_seq AS acked, p.acked_seq AS prev
           FROM lazy, st
           JOIN dev ON dev.user_id = st.user_id AND dev.device_id = st.device_id
           LEFT JOIN devices p ON p.tenant_id = $1 AND p.user_id = st.user_id AND p.device_id = st.device_id`,
    values: [tenantId, touches.map((t) => t.userId), touches.map((t) => t.deviceId), touches.map((t) => t.ack)],
  });
  const out: DeviceState[] = new Array(touches.length);
  for (const r of rows) out[r.ord - 1] = { head: r.head, read: r.rd, floor: r.fl, acked: r.acked, prev: r.prev ?? r.fl };
  return out;
}

/** Moves a device cursor forward, durably (an explicit POST /v1/ack). Null: seq beyond the head. */
export async function ackDevice(db: Queryable, tenantId: string, userId: string, deviceId: string, seq: number): Promise<DeviceState | null> {
  const { rows } = await db.query<{ head: number; rd: number; fl: number; acked: number | null; prev: number | null }>({
    name: 'ack_device',
    text: `WITH st AS (
             SELECT COALESCE(max(head_seq), 0) AS head, COALESCE(max(read_seq), 0) AS rd, COALESCE(max(floor_seq), 0) AS fl
             FROM inboxes WHERE tenant_id = $1 AND user_id = $2),
           dev AS (
             INSERT INTO devices AS d (tenant_id, user_id, device_id, acked_seq, last_seen)
             SELECT $1, $2, $3, GREATEST($4::bigint, st.fl), now() FROM st WHERE $4::bigint <= st.head
             ON CONFLICT (tenant_id, user_id, device_id) DO UPDATE SET last_seen = now(), acked_seq = GREATEST(d.acked_seq, EXCLUDED.acked_seq)
             RETURNING acked_seq)
           SELECT st.head, st.rd, st.fl, (SELECT acked_seq FROM dev) AS acked,
                  (SELECT acked_seq FROM devices WHERE tenant_id = $1 AND user_id = $2 AND device_id = $3) AS prev FROM st`,
    values: [tenantId, userId, deviceId, seq],
  });
  const r = rows[0]!;
  return r.acked === null ? null : { head: r.head, read: r.rd, floor: r.fl, acked: r.acked, prev: r.prev ?? r.fl };
}

/** Inbox heads of many users (safety tick); users without an inbox are absent. */
export async function readHeads(db: Queryable, tenantId: string, users: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ user_id: string; head_seq: number }>({
    name: 'read_heads',
    text: 'SELECT user_id, head_seq FROM inboxes WHERE tenant_id = $1 AND user_id = ANY($2::text[])',
    values: [tenantId, users],
  });
  return new Map(rows.map((r) => [r.user_id, r.head_seq]));
}

export async function inboxState(db: Queryable, tenantId: string, userId: string): Promise<InboxState> {
  const { rows } = await db.query<{ head_seq: number; read_seq: number; floor_seq: number }>({
    name: 'inbox_state',
    text: 'SELECT head_seq, read_seq, floor_seq FROM inboxes WHERE tenant_id = $1 AND user_id = $2',
    values: [tenantId, userId],
  });
  const r = rows[0];
  return r ? { head: r.head_seq, read: r.read_seq, floor: r.floor_seq } : { head: 0, read: 0, floor: 0 };
}

export interface HistoryQuery {
  tenantId: string;
  userId: string;
  before: number | null;
  after: number | null;
  type: string | null;
  /** JSON text of an object matched by containment (payload @> match). */
  match: string | null;
  limit: number;
}

export interface HistoryRow {
  seq: number;
  body: string;
}

// Two fixed texts rather than one with "$n IS NULL OR payload @> $n": a generic plan of the latter
// cannot use the GIN index. With a match, the planner can start from the index on messages. For the
// same reason the seq bounds are plain ranges (COALESCE to the widest): with "$3 IS NULL OR
// seq < $3" a generic plan would make every page read the newer entries again.
/** Exported for the test that checks its plan starts a page at its bound. */
export const HISTORY_SQL = `SELECT e.seq, ${MESSAGE_BODY_JSON} AS body
  FROM inbox_entries e JOIN messages m ON m.tenant_id = e.tenant_id AND m.id = e.message_id
  WHERE e.tenant_id = $1 AND e.user_id = $2
    AND e.seq < COALESCE($3::bigint, 9223372036854775807) AND e.seq > COALESCE($4::bigint, 0)
    AND ($5::text IS NULL OR m.type = $5)
  ORDER BY e.seq DESC LIMIT $6`;
/** Exported for the test that checks its plan uses the GIN index. */
export const HISTORY_MATCH_SQL = `SELECT e.seq, ${MESSAGE_BODY_JSON} AS body
  FROM messages m JOIN inbox_entries e ON e.tenant_id = m.tenant_id AND e.message_id = m.id AND e.user_id = $2
  WHERE m.tenant_id = $1 AND m.payload @> $7::jsonb
    AND e.seq < COALESCE($3::bigint, 9223372036854775807) AND e.seq > COALESCE($4::bigint, 0)
    AND ($5::text IS NULL OR m.type = $5)
  ORDER BY e.seq DESC LIMIT $6`;

export async function history(db: Queryable, q: HistoryQuery): Promise<HistoryRow[]> {
  const values: unknown[] = [q.tenantId, q.userId, q.before, q.after, q.type, q.limit];
  const { rows } = await db.query<HistoryRow>(q.match === null
    ? { name: 'history', text: HISTORY_SQL, values }
    : { name: 'history_match', text: HISTORY_MATCH_SQL, values: [...values, q.match] });
  return rows;
}
