// "Did user X get message Y, and if not, where is it?" The trace of one message: per recipient its
// seq and whether the user read it; per device of that recipient, every write of it to a
// connection (when, poll or stream), whether the device acknowledged it (cursor >= seq); the
// fan-out state of a group message and any dead-letter rows that concern it.
import type { Queryable } from '../../db/pool.ts';
import * as q from '../../db/queries/ops.ts';

export interface TraceDeviceOut {
  device: string;
  written: { at: string; transport: string }[];
  acknowledged: boolean;
  ackedSeq: number;
  lastSeen: string;
}

export interface Trace {
  message: { id: string; from: string; group: string | null; type: string; createdAt: string; expiresAt: string };
  recipientCount: number;
  /** True when more recipients exist than are listed. */
  truncated: boolean;
  recipients: { user: string; seq: number; read: boolean; readSeq: number; devices: TraceDeviceOut[] }[];
  fanout: { mode: 'inline' | 'group'; state: string; outbox: Record<string, unknown>[] | null };
  /** null: this database has no dead_letters table. */
  deadLetters: Record<string, unknown>[] | null;
}

const num = (r: Record<string, unknown>, ...keys: string[]): number | null => {
  for (const k of keys) if (typeof r[k] === 'number') return r[k] as number;
  return null;
};
const str = (r: Record<string, unknown>, ...keys: string[]): string | null => {
  for (const k of keys) if (typeof r[k] === 'string') return r[k] as string;
  return null;
};

export async function traceMessage(db: Queryable, tenantId: string, id: string, maxRecipients = 1000): Promise<Trace | null> {
  const m = await q.traceMessage(db, tenantId, id);
  if (!m) return null;
  const [rec, hasOutbox, hasDead] = await Promise.all([
    q.traceRecipients(db, tenantId, id, maxRecipients), q.tableExists(db, 'outbox'), q.tableExists(db, 'dead_letters'),
  ]);
  const byUser = new Map<string, Trace['recipients'][number]>();
  for (const r of rec.rows) {
    let u = byUser.get(r.userId);
    if (!u) byUser.set(r.userId, (u = { user: r.userId, seq: r.seq, read: r.readSeq >= r.seq, readSeq: r.readSeq, devices: [] }));
    if (r.deviceId === null) continue;
    u.devices.push({
      device: r.deviceId,
      written: (r.writes ?? []).map(([at, transport]) => ({ at, transport })),
      acknowledged: (r.ackedSeq ?? 0) >= r.seq,
      ackedSeq: r.ackedSeq ?? 0,
      lastSeen: r.lastSeen!.toISOString(),
    });
  }
  const outbox = hasOutbox ? await q.tenantRows(db, 'outbox', tenantId, id) : null;
  let fanoutState = 'done in the publish transaction';
  if (m.groupId !== null) {
    if (outbox === null) fanoutState = 'unknown: no outbox table';
    else fanoutState = outbox.length ? 'in progress' : 'finished';
  }
  let deadLetters: Record<string, unknown>[] | null = null;
  if (hasDead) {
    // Dead letters name a device's seq range rather than a message: keep those covering a recipient's seq.
    deadLetters = (await q.tenantRows(db, 'dead_letters', tenantId, null)).filter((row) => {
      if (JSON.stringify(row).includes(id)) return true;
      const u = byUser.get(str(row, 'user_id', 'user') ?? '');
      const from = num(row, 'from_seq', 'fromSeq');
      const to = num(row, 'to_seq', 'toSeq');
      return u !== undefined && from !== null && to !== null && from <= u.seq && u.seq <= to;
    });
  }
  return {
    message: { id: m.id, from: m.sender, group: m.groupId, type: m.type, createdAt: m.createdAt.toISOString(), expiresAt: m.expiresAt.toISOString() },
    recipientCount: rec.recipients,
    truncated: rec.recipients > byUser.size,
    recipients: [...byUser.values()],
    fanout: { mode: m.groupId === null ? 'inline' : 'group', state: fanoutState, outbox },
    deadLetters,
  };
}
