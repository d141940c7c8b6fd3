// Presence: who is online, for GET /v1/presence, and the conditional writes that decide
// online/offline changes (db/queries/presence.ts). Timers live in delivery/presence.ts.
import type { Queryable } from '../../db/pool.ts';
import * as q from '../../db/queries/presence.ts';
import { sharingAGroup } from '../../db/queries/signals.ts';

export const assertOnline = q.assertOnline;
export const sweepOffline = q.sweepOffline;

export interface PresenceAsker {
  tenantId: string;
  /** The asking user (client token); null for an admin key, which may see anyone. */
  userId: string | null;
}

export interface PresenceEntry {
  online: boolean;
  lastSeen: string | null;
}

/**
 * Presence of the users the asker may see: a client token sees itself and users it shares a
 * group with; the others are left out of the answer (not an error: a roster that lost a member
 * still gets the rest). `heldHere` says whether a user holds a connection on this process now.
 */
export async function presence(db: Queryable, who: PresenceAsker, users: readonly string[], windowS: number, heldHere: (user: string) => boolean): Promise<Record<string, PresenceEntry>> {
  let visible = [...new Set(users)];
  if (who.userId !== null) {
    const me = who.userId;
    const others = visible.filter((u) => u !== me);
    const shared = others.length ? await sharingAGroup(db, who.tenantId, me, others) : new Set<string>();
    visible = visible.filter((u) => u === me || shared.has(u));
  }
  // No prototype: a user may be called "__proto__".
  const out: Record<string, PresenceEntry> = Object.create(null);
  if (visible.length === 0) return out;
  const now = new Date();
  for (const r of await q.presenceOf(db, who.tenantId, visible, windowS)) {
    const here = heldHere(r.user);
    out[r.user] = { online: here || r.recent, lastSeen: here ? now.toISOString() : r.lastSeen?.toISOString() ?? null };
  }
  return out;
}
