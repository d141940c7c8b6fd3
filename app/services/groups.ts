// Group administration. Each change is one transaction that locks the group row first, so
// concurrent changes of one group apply one after the other and the size limit holds.
import { withTransaction, type Pool, type Queryable } from '../../db/pool.ts';
import * as q from '../../db/queries/groups.ts';
import { ApiError } from '../errors.ts';

export interface GroupSummary {
  group: string;
  size: number;
  presence: boolean;
  createdAt: string;
  added: number;
  removed: number;
  created: boolean;
}

const tooMany = (max: number) => new ApiError('invalid_request', `members: a group may have at most ${max} members`, { max });
const unknown = (group: string) => new ApiError('not_found', `group "${group}" does not exist (create it with PUT /v1/groups/${group})`);

/** Creates the group or replaces its members (and presence, when given). */
export async function putGroup(db: Pool, tenantId: string, group: string, members: readonly string[], presence: boolean | null, maxMembers: number): Promise<GroupSummary> {
  const want = [...new Set(members)];
  if (want.length > maxMembers) throw tooMany(maxMembers);
  return withTransaction(db, async (c) => {
    const g = await q.upsertGroup(c, tenantId, group, presence);
    const { added, removed } = await q.replaceMembers(c, tenantId, group, want);
    return { group, size: want.length, presence: g.presence, createdAt: g.createdAt.toISOString(), added, removed, created: g.created };
  }, { lockTimeoutMs: 10_000 });
}

export async function addMembers(db: Pool, tenantId: string, group: string, users: readonly string[], maxMembers: number): Promise<{ group: string; added: number; size: number }> {
  return withTransaction(db, async (c) => {
    if (!(await q.lockGroup(c, tenantId, group))) throw unknown(group);
    const r = await q.addMembers(c, tenantId, group, [...new Set(users)]);
    if (r.size > maxMembers) throw tooMany(maxMembers); // rolls the insert back
    return { group, ...r };
  }, { lockTimeoutMs: 10_000 });
}

export async function removeMember(db: Pool, tenantId: string, group: string, user: string): Promise<{ group: string; user: string; removed: boolean }> {
  return withTransaction(db, async (c) => {
    if (!(await q.lockGroup(c, tenantId, group))) throw unknown(group);
    return { group, user, removed: await q.removeMember(c, tenantId, group, user) };
  });
}

export async function getGroup(db: Queryable, tenantId: string, group: string): Promise<{ group: string; members: string[]; presence: boolean; createdAt: string }> {
  const g = await q.readGroup(db, tenantId, group);
  if (!g) throw unknown(group);
  return { group, members: g.members, presence: g.presence, createdAt: g.createdAt.toISOString() };
}
