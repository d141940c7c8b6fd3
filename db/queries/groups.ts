// Groups and their members. Membership changes lock the group row first, so two changes of one
// group run one after the other and a size check sees the other's members.
import type { Queryable } from '../pool.ts';

export interface GroupRow {
  createdAt: Date;
  presence: boolean;
}

/** The group's member count and whether `userId` is a member, or null when the group does not exist. */
export async function groupSize(db: Queryable, tenantId: string, groupId: string, userId: string): Promise<{ size: number; member: boolean } | null> {
  const { rows } = await db.query<{ size: number; member: boolean }>({
    name: 'group_size',
    text: `SELECT (SELECT count(*) FROM group_members m WHERE m.tenant_id = g.tenant_id AND m.group_id = g.group_id) AS size,
                  EXISTS (SELECT 1 FROM group_members m WHERE m.tenant_id = g.tenant_id AND m.group_id = g.group_id AND m.user_id = $3) AS member
           FROM groups g WHERE g.tenant_id = $1 AND g.group_id = $2`,
    values: [tenantId, groupId, userId],
  });
  return rows[0] ?? null;
}

/** Creates the group, or locks and updates it; `presence` null keeps the current setting. */
export async function upsertGroup(db: Queryable, tenantId: string, groupId: string, presence: boolean | null): Promise<GroupRow & { created: boolean }> {
  // Two statements rather than ON CONFLICT DO UPDATE: a partitioned table cannot return xmax,
  // the usual way to tell an insert from an update.
  const ins = await db.query<{ created_at: Date; presence: boolean }>({
    name: 'insert_group',
    text: `INSERT INTO groups (tenant_id, group_id, presence) VALUES ($1, $2, COALESCE($3::boolean, false))
           ON CONFLICT (tenant_id, group_id) DO NOTHING RETURNING created_at, presence`,
    values: [tenantId, groupId, presence],
  });
  if (ins.rows[0]) return { createdAt: ins.rows[0].created_at, presence: ins.rows[0].presence, created: true };
  const upd = await db.query<{ created_at: Date; presence: boolean }>({
    name: 'update_group',
    text: `UPDATE groups SET presence = COALESCE($3::boolean, presence) WHERE tenant_id = $1 AND group_id = $2
           RETURNING created_at, presence`,
    values: [tenantId, groupId, presence],
  });
  const r = upd.rows[0]!;
  return { createdAt: r.created_at, presence: r.presence, created: false };
}

/** Locks the group row for a membership change; null when it does not exist. */
export async function lockGroup(db: Queryable, tenantId: string, groupId: string): Promise<GroupRow | null> {
  const { rows } = await db.query<{ created_at: Date; presence: boolean }>({
    name: 'lock_group',
    text: 'SELECT created_at, presence FROM groups WHERE tenant_id = $1 AND group_id = $2 FOR UPDATE',
    values: [tenantId, groupId],
  });
  const r = rows[0];
  return r ? { createdAt: r.created_at, presence: r.presence } : null;
}

/**
 * Makes the membership exactly `users`: removes the others, adds the missing (members kept keep
 * their added_at). Anti-joins rather than `<> ALL(array)`, which would be quadratic.
 */
export async function replaceMembers(db: Queryable, tenantId: string, groupId: string, users: readonly string[]): Promise<{ added: number; removed: number }> {
  const { rows } = await db.query<{ added: number; removed: number }>({
    name: 'replace_members',
    text: `WITH want AS (SELECT DISTINCT u AS user_id FROM unnest($3::text[]) AS u),
           del AS (
             DELETE FROM group_members m WHERE m.tenant_id = $1 AND m.group_id = $2
               AND NOT EXISTS (SELECT 1 FROM want WHERE want.user_id = m.user_id)
             RETURNING 1),
           ins AS (
             INSERT INTO group_members (tenant_id, group_id, user_id)
             SELECT $1, $2, user_id FROM want ON CONFLICT DO NOTHING
             RETURNING 1)
           SELECT (SELECT count(*) FROM ins) AS added, (SELECT count(*) FROM del) AS removed`,
    values: [tenantId, groupId, users],
  });
  return rows[0]!;
}

/** Adds members (existing ones untouched); returns how many were new and the size after. */
export async function addMembers(db: Queryable, tenantId: string, groupId: string, users: readonly string[]): Promise<{ added: number; size: number }> {
  const { rows } = await db.query<{ added: number; before: number }>({
    name: 'add_members',
    text: `WITH ins AS (
             INSERT INTO group_members (tenant_id, group_id, user_id)
             SELECT $1, $2, u FROM unnest($3::text[]) AS u ON CONFLICT DO NOTHING
             RETURNING 1)
           SELECT (SELECT count(*) FROM ins) AS added,
                  (SELECT count(*) FROM group_members WHERE tenant_id = $1 AND group_id = $2) AS before`,
    values: [tenantId, groupId, users],
  });
  const r = rows[0]!;
  // The count reads the snapshot before the insert (a CTE's writes are invisible to its siblings).
  return { added: r.added, size: r.before + r.added };
}

export async function removeMember(db: Queryable, tenantId: string, groupId: string, userId: string): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'remove_member',
    text: 'DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND user_id = $3',
    values: [tenantId, groupId, userId],
  });
  return (rowCount ?? 0) > 0;
}

export async function readGroup(db: Queryable, tenantId: string, groupId: string): Promise<(GroupRow & { members: string[] }) | null> {
  const { rows } = await db.query<{ created_at: Date; presence: boolean; members: string[] }>({
    name: 'read_group',
    text: `SELECT g.created_at, g.presence,
                  ARRAY(SELECT m.user_id FROM group_members m WHERE m.tenant_id = g.tenant_id AND m.group_id = g.group_id
                        ORDER BY m.user_id COLLATE "C") AS members
           FROM groups g WHERE g.tenant_id = $1 AND g.group_id = $2`,
    values: [tenantId, groupId],
  });
  const r = rows[0];
  return r ? { createdAt: r.created_at, presence: r.presence, members: r.members } : null;
}
