// Presence rows: the conditional writes that decide online/offline changes once across all
// processes, and send the `presence` notifications in the same statement (so a change is
// announced if and only if it commits).
//
// Notification: p|<tenant>|<user>|<1 online, 0 offline>|<recipient>,<recipient>…  — recipients are
// the other online members of the user's presence groups, 50 a notification (50 ids of at most
// 128 characters keep a payload under PostgreSQL's 8000-byte limit).
import type { Queryable } from '../pool.ts';
import { CHANNEL } from '../listen.ts';

// The two statements that decide changes have no name, so PostgreSQL plans them with their values
// every time (a named statement may be switched to a generic plan after five runs): a generic plan
// took 0.85–1 s a call, against 11 ms, when the 1,000 members of one group connected at once.

// Members of the subject's presence groups, but not the subject; `$tenant` is a column or $1.
// Recipients are those online: the presence row says so, or a device of theirs was seen within the
// window — a connection touches its device before it is registered, so a member who connected a
// moment ago (not yet asserted by its process) is told too.
const audience = (tenant: string, subject: string) => `
  JOIN group_members m1 ON m1.tenant_id = ${tenant} AND m1.user_id = ${subject}
  JOIN groups g ON g.tenant_id = ${tenant} AND g.group_id = m1.group_id AND g.presence
  JOIN group_members m2 ON m2.tenant_id = ${tenant} AND m2.group_id = m1.group_id AND m2.user_id <> ${subject}`;

const connected = (tenant: string, windowParam: string) => `(
  EXISTS (SELECT 1 FROM presence q WHERE q.tenant_id = ${tenant} AND q.user_id = m2.user_id AND q.online)
  OR EXISTS (SELECT 1 FROM devices d WHERE d.tenant_id = ${tenant} AND d.user_id = m2.user_id AND d.last_seen >= now() - make_interval(secs => ${windowParam})))`;

const notes = (tenant: string, state: '0' | '1') => `
  SELECT pg_notify('${CHANNEL}', 'p|' || ${tenant} || '|' || subject || '|${state}|' || string_agg(rcpt, ','))
  FROM (SELECT t, subject, rcpt, (row_number() OVER (PARTITION BY t, subject ORDER BY rcpt) - 1) / 50 AS chunk FROM rcpt) x
  GROUP BY t, subject, chunk`;

/**
 * The users are connected to this process now: seen_at = now() for all; those not online become
 * online and are announced. `users` must be distinct and sorted (the row lock order, so two
 * processes asserting overlapping sets cannot deadlock). Returns the users that changed.
 */
export async function assertOnline(db: Queryable, tenantId: string, users: readonly string[], windowS: number): Promise<string[]> {
  const { rows } = await db.query<{ changed: string[] | null }>({
    text: `WITH up AS (
             INSERT INTO presence AS p (tenant_id, user_id, online, seen_at, changed_at)
             SELECT $1, u, true, now(), now() FROM unnest($2::text[]) AS u
             ON CONFLICT (tenant_id, user_id) DO UPDATE
               SET online = true, seen_at = now(), changed_at = CASE WHEN p.online THEN p.changed_at ELSE now() END
             RETURNING p.user_id, p.changed_at = now() AS changed),
           changed AS (SELECT user_id FROM up WHERE changed),
           -- Users asserted in this statement are online even though the snapshot may not say so yet.
           rcpt AS (
             SELECT DISTINCT $1::text AS t, c.user_id AS subject, m2.user_id AS rcpt
             FROM changed c ${audience('$1', 'c.user_id')}
             WHERE m2.user_id IN (SELECT user_id FROM up) OR ${connected('$1', '$3')}),
           note AS (${notes('$1::text', '1')})
           SELECT (SELECT array_agg(user_id) FROM changed) AS changed, (SELECT count(*) FROM note) AS notified`,
    values: [tenantId, users, windowS],
  });
  return rows[0]!.changed ?? [];
}

/**
 * Turns online users not seen for `windowS` offline and announces them, at most `limit` a call.
 * SKIP LOCKED: concurrent sweeps of several processes take disjoint rows, and a row being
 * re-asserted right now is skipped (it is online). Returns how many changed.
 */
export async function sweepOffline(db: Queryable, windowS: number, limit: number): Promise<{ tenantId: string; userId: string }[]> {
  const { rows } = await db.query<{ tenant_id: string; user_id: string }>({
    text: `WITH due AS (
             SELECT tenant_id, user_id FROM presence
             WHERE online AND seen_at < now() - make_interval(secs => $1)
             ORDER BY seen_at LIMIT $2 FOR UPDATE SKIP LOCKED),
           down AS (
             UPDATE presence p SET online = false, changed_at = now()
             FROM due WHERE p.tenant_id = due.tenant_id AND p.user_id = due.user_id
             RETURNING p.tenant_id, p.user_id),
           rcpt AS (
             SELECT DISTINCT d.tenant_id AS t, d.user_id AS subject, m2.user_id AS rcpt
             FROM down d ${audience('d.tenant_id', 'd.user_id')}
             WHERE ${connected('d.tenant_id', '$1')}
               AND NOT EXISTS (SELECT 1 FROM down x WHERE x.tenant_id = d.tenant_id AND x.user_id = m2.user_id)),
           note AS (${notes('t', '0')})
           SELECT d.tenant_id, d.user_id FROM down d, (SELECT count(*) FROM note) n`,
    values: [windowS, limit],
  });
  return rows.map((r) => ({ tenantId: r.tenant_id, userId: r.user_id }));
}

export interface PresenceRow {
  user: string;
  /** Latest of the presence row's seen_at and the user's devices' last_seen; null: never seen. */
  lastSeen: Date | null;
  /** Seen within the window by any process. */
  recent: boolean;
}

export async function presenceOf(db: Queryable, tenantId: string, users: readonly string[], windowS: number): Promise<PresenceRow[]> {
  const { rows } = await db.query<{ user_id: string; last_seen: Date | null; recent: boolean | null }>({
    name: 'presence_of',
    text: `SELECT user_id, last_seen, last_seen >= now() - make_interval(secs => $3) AS recent
           FROM (SELECT u AS user_id,
                        GREATEST((SELECT p.seen_at FROM presence p WHERE p.tenant_id = $1 AND p.user_id = u),
                                 (SELECT max(d.last_seen) FROM devices d WHERE d.tenant_id = $1 AND d.user_id = u)) AS last_seen
                 FROM unnest($2::text[]) AS u) x`,
    values: [tenantId, users, windowS],
  });
  return rows.map((r) => ({ user: r.user_id, lastSeen: r.last_seen, recent: r.recent === true }));
}
