// Signals (QoS 0): who may be signalled, who a group signal reaches, and the NOTIFYs that carry
// a signal to the other processes. Nothing here stores a signal.
import type { Queryable } from '../pool.ts';
import { CHANNEL } from '../listen.ts';

/** Of `users`, those who share at least one group with `userId` (whom a client token may signal or see). */
export async function sharingAGroup(db: Queryable, tenantId: string, userId: string, users: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ user_id: string }>({
    name: 'sharing_a_group',
    text: `SELECT DISTINCT m2.user_id
           FROM group_members m1
           JOIN group_members m2 ON m2.tenant_id = m1.tenant_id AND m2.group_id = m1.group_id
           WHERE m1.tenant_id = $1 AND m1.user_id = $2 AND m2.user_id = ANY($3::text[])`,
    values: [tenantId, userId, users],
  });
  return new Set(rows.map((r) => r.user_id));
}

export interface GroupAudience {
  /** The group's members except the sender. */
  members: string[];
  senderIsMember: boolean;
}

/** A group's members (without `sender`), or null when the group does not exist. */
export async function groupAudience(db: Queryable, tenantId: string, groupId: string, sender: string): Promise<GroupAudience | null> {
  const { rows } = await db.query<{ members: string[]; member: boolean }>({
    name: 'group_audience',
    text: `SELECT ARRAY(SELECT m.user_id FROM group_members m WHERE m.tenant_id = g.tenant_id AND m.group_id = g.group_id AND m.user_id <> $3) AS members,
                  EXISTS (SELECT 1 FROM group_members m WHERE m.tenant_id = g.tenant_id AND m.group_id = g.group_id AND m.user_id = $3) AS member
           FROM groups g WHERE g.tenant_id = $1 AND g.group_id = $2`,
    values: [tenantId, groupId, sender],
  });
  const r = rows[0];
  return r ? { members: r.members, senderIsMember: r.member } : null;
}

/** Sends every payload on the channel in one statement (one round trip however many chunks). */
export async function notifyAll(db: Queryable, payloads: readonly string[]): Promise<void> {
  if (payloads.length === 0) return;
  await db.query({ name: 'notify_all', text: 'SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', values: [CHANNEL, payloads] });
}

/** LISTEN connections of mailslot processes on this database (this one included). */
export async function listeningProcesses(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>({
    name: 'listening_processes',
    text: `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'mailslot-listen'`,
  });
  return rows[0]!.n;
}
