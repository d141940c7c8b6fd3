// Operations figures and the delivery record: cheap aggregate queries for /metrics and the console
// (cached by the caller between scrapes), batched delivery-record writes, and the trace of one message.
import type { Queryable } from '../pool.ts';

/**
 * Age in seconds of the oldest entry some device has not acknowledged (null: none). One index
 * lookup per device that is behind: the entry just after its cursor (or after the retention floor).
 */
export async function oldestUnackedAgeS(db: Queryable): Promise<number | null> {
  const { rows } = await db.query<{ age: number | null }>({
    name: 'oldest_unacked_age',
    text: `SELECT EXTRACT(EPOCH FROM now() - min(m.created_at))::float8 AS age
           FROM devices d
           JOIN inboxes i ON i.tenant_id = d.tenant_id AND i.user_id = d.user_id AND i.head_seq > d.acked_seq
           JOIN inbox_entries e ON e.tenant_id = d.tenant_id AND e.user_id = d.user_id
                               AND e.seq = GREATEST(d.acked_seq, i.floor_seq) + 1
           JOIN messages m ON m.tenant_id = e.tenant_id AND m.id = e.message_id`,
  });
  return rows[0]?.age ?? null;
}

/** Queued group fan-outs not finished yet (the partial index outbox_pending serves it). */
export async function outboxBacklog(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>({ name: 'outbox_backlog', text: "SELECT count(*)::int AS n FROM outbox WHERE state = 'pending'" });
  return rows[0]?.n ?? 0;
}

/** Dead letters waiting for an operator (retried, discarded and acked ones are history). */
export async function openDeadLetters(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>({ name: 'open_dead_letters', text: "SELECT count(*)::int AS n FROM dead_letters WHERE state = 'open'" });
  return rows[0]?.n ?? 0;
}

export interface LastJobRun {
  job: string;
  startedAt: Date;
  durationMs: number;
  failed: boolean;
}

export async function lastJobRuns(db: Queryable): Promise<LastJobRun[]> {
  const { rows } = await db.query<{ job: string; started_at: Date; duration_ms: number; failed: boolean }>({
    name: 'last_job_runs',
    text: `SELECT DISTINCT ON (job) job, started_at, duration_ms, error IS NOT NULL AS failed
           FROM job_runs ORDER BY job, started_at DESC`,
  });
  return rows.map((r) => ({ job: r.job, startedAt: r.started_at, durationMs: r.duration_ms, failed: r.failed }));
}

export interface DeliveryRow {
  tenantId: string;
  userId: string;
  deviceId: string;
  firstSeq: number;
  lastSeq: number;
  transport: 'poll' | 'stream';
  writtenAt: Date;
}

/** Consecutive writes to one device by one transport: first_seq..last_seq, each write's end and time. */
export interface DeliveryRun extends DeliveryRow {
  /** The last seq of each write, in order (the last one is lastSeq). */
  ends: number[];
  /** Each write's time in ms after writtenAt (the first is 0). */
  atMs: number[];
}

/** Stores a batch of delivery records in one statement, committed asynchronously (hints, not data). */
export async function insertDeliveries(db: Queryable, runs: readonly DeliveryRun[]): Promise<void> {
  // A run of one write is stored as before (NULL ends and at_ms); arrays go as array literals.
  const many = (r: DeliveryRun, a: number[]) => (r.ends.length > 1 ? `{${a.join(',')}}` : null);
  await db.query({
    name: 'insert_deliveries',
    text: `WITH lazy AS (SELECT set_config('synchronous_commit', 'off', true))
           INSERT INTO deliveries (tenant_id, user_id, device_id, first_seq, last_seq, transport, written_at, ends, at_ms)
           SELECT t, u, d, f, l, tr, w, e::bigint[], a::int[]
           FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::timestamptz[], $8::text[], $9::text[])
                AS r(t, u, d, f, l, tr, w, e, a)
           WHERE (SELECT true FROM lazy)`,
    values: [
      runs.map((r) => r.tenantId), runs.map((r) => r.userId), runs.map((r) => r.deviceId), runs.map((r) => r.firstSeq),
      runs.map((r) => r.lastSeq), runs.map((r) => r.transport), runs.map((r) => r.writtenAt),
      runs.map((r) => many(r, r.ends)), runs.map((r) => many(r, r.atMs)),
    ],
  });
}

/** Deletes up to `limit` delivery records older than the retention; returns how many went. */
export async function pruneDeliveries(db: Queryable, olderThanS: number, limit: number): Promise<number> {
  const res = await db.query({
    name: 'prune_deliveries',
    // The oldest `limit` records (and any sharing the last one's time), by the written_at index
    // of each partition. Not by ctid: a ctid is only unique within one partition, and matching
    // (tableoid, ctid) pairs is a hash join over the whole table.
    text: `DELETE FROM deliveries
           WHERE written_at < now() - make_interval(secs => $1)
             AND written_at <= COALESCE((SELECT written_at FROM deliveries WHERE written_at < now() - make_interval(secs => $1)
                                         ORDER BY written_at OFFSET $2 - 1 LIMIT 1), 'infinity')`,
    values: [olderThanS, limit],
  });
  return res.rowCount ?? 0;
}

export interface TraceMessage {
  id: string;
  sender: string;
  groupId: string | null;
  type: string;
  createdAt: Date;
  expiresAt: Date;
}

export async function traceMessage(db: Queryable, tenantId: string, id: string): Promise<TraceMessage | null> {
  const { rows } = await db.query<{ id: string; sender: string; group_id: string | null; type: string; created_at: Date; expires_at: Date }>({
    name: 'trace_message',
    text: 'SELECT id, sender, group_id, type, created_at, expires_at FROM messages WHERE tenant_id = $1 AND id = $2',
    values: [tenantId, id],
  });
  const r = rows[0];
  return r ? { id: r.id, sender: r.sender, groupId: r.group_id, type: r.type, createdAt: r.created_at, expiresAt: r.expires_at } : null;
}

export interface TraceDevice {
  userId: string;
  seq: number;
  readSeq: number;
  deviceId: string | null;
  ackedSeq: number | null;
  lastSeen: Date | null;
  /** Every write of this seq to this device: [writtenAt ISO, transport], oldest first. */
  writes: [string, string][] | null;
}

/**
 * Per recipient of one message: its seq and the inbox read cursor; per device of that recipient:
 * its ack cursor and the writes whose seq range holds the message's seq. Recipients are capped
 * (a group message may reach thousands); `recipients` counts them all.
 */
export async function traceRecipients(db: Queryable, tenantId: string, id: string, limit: number): Promise<{ rows: TraceDevice[]; recipients: number }> {
  const { rows } = await db.query<{ user_id: string; seq: number; read_seq: number; device_id: string | null; acked_seq: number | null; last_seen: Date | null; writes: [string, string][] | null; total: number }>({
    name: 'trace_recipients',
    text: `WITH e AS (
             SELECT user_id, seq, count(*) OVER () AS total FROM inbox_entries
             WHERE tenant_id = $1 AND message_id = $2 ORDER BY user_id LIMIT $3)
           SELECT e.user_id, e.seq, COALESCE(i.read_seq, 0) AS read_seq, e.total::int AS total,
                  d.device_id, d.acked_seq, d.last_seen,
                  (SELECT json_agg(json_build_array(
                            to_char(x.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), x.transport) ORDER BY x.at)
                     FROM (SELECT w.transport,
                                  -- In a run of writes, the first write whose end reaches the seq wrote it.
                                  w.written_at + COALESCE((SELECT o.ms FROM unnest(w.ends, w.at_ms) AS o(end_seq, ms)
                                                           WHERE o.end_seq >= e.seq ORDER BY o.end_seq LIMIT 1), 0) * interval '1 millisecond' AS at
                             FROM deliveries w
                            WHERE w.tenant_id = $1 AND w.user_id = e.user_id AND w.device_id = d.device_id
                              AND w.last_seq >= e.seq AND w.first_seq <= e.seq) x) AS writes
           FROM e
           LEFT JOIN inboxes i ON i.tenant_id = $1 AND i.user_id = e.user_id
           LEFT JOIN devices d ON d.tenant_id = $1 AND d.user_id = e.user_id
           ORDER BY e.user_id, d.device_id`,
    values: [tenantId, id, limit],
  });
  return {
    recipients: rows[0]?.total ?? 0,
    rows: rows.map((r) => ({ userId: r.user_id, seq: r.seq, readSeq: r.read_seq, deviceId: r.device_id, ackedSeq: r.acked_seq, lastSeen: r.last_seen, writes: r.writes })),
  };
}

export interface OutboxState {
  state: string;
  total: number;
  done: number;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  finishedAt: Date | null;
}

/** The fan-out state of a queued group message (null: it was fanned out inline). */
export async function outboxOf(db: Queryable, tenantId: string, messageId: string): Promise<OutboxState | null> {
  const { rows } = await db.query<{ state: string; total: number; done: number; attempts: number; last_error: string | null; created_at: Date; finished_at: Date | null }>({
    name: 'outbox_of',
    text: `SELECT state, total, done, attempts, last_error, created_at, finished_at FROM outbox WHERE tenant_id = $1 AND message_id = $2`,
    values: [tenantId, messageId],
  });
  const r = rows[0];
  return r ? { state: r.state, total: r.total, done: r.done, attempts: r.attempts, lastError: r.last_error, createdAt: r.created_at, finishedAt: r.finished_at } : null;
}

export interface DeviceRow {
  deviceId: string;
  ackedSeq: number;
  lastSeen: Date;
  head: number;
  readSeq: number;
}

export async function userDevices(db: Queryable, tenantId: string, userId: string): Promise<DeviceRow[]> {
  const { rows } = await db.query<{ device_id: string; acked_seq: number; last_seen: Date; head: number; read_seq: number }>({
    name: 'user_devices',
    text: `SELECT d.device_id, d.acked_seq, d.last_seen, COALESCE(i.head_seq, 0) AS head, COALESCE(i.read_seq, 0) AS read_seq
           FROM devices d LEFT JOIN inboxes i ON i.tenant_id = d.tenant_id AND i.user_id = d.user_id
           WHERE d.tenant_id = $1 AND d.user_id = $2 ORDER BY d.last_seen DESC LIMIT 100`,
    values: [tenantId, userId],
  });
  return rows.map((r) => ({ deviceId: r.device_id, ackedSeq: r.acked_seq, lastSeen: r.last_seen, head: r.head, readSeq: r.read_seq }));
}
