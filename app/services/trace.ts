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
  fanout: {
    mode: 'inline' | 'group';
    /** inline: done in the publish transaction; else the outbox state (pending, done, expired). */
    state: string;
    total: number | null;
    done: number | null;
    attempts: number | null;
    lastError: string | null;
    finishedAt: string | null;
  };
  deadLetters: { id: string; user: string; device: string; fromSeq: number; toSeq: number; attempts: number; reason: string; state: string; createdAt: string }[];
}

export async function traceMessage(db: Queryable, tenantId: string, id: string, maxRecipients = 1000): Promise<Trace | null> {
  const m = await q.traceMessage(db, tenantId, id);
  if (!m) return null;
  const [rec, outbox, dead] = await Promise.all([
    q.traceRecipients(db, tenantId, id, maxRecipients), q.outboxOf(db, tenantId, id), q.deadLettersOf(db, tenantId, id),
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
  return {
    message: { id: m.id, from: m.sender, group: m.groupId, type: m.type, createdAt: m.createdAt.toISOString(), expiresAt: m.expiresAt.toISOString() },
    recipientCount: rec.recipients,
    truncated: rec.recipients > byUser.size,
    recipients: [...byUser.values()],
    fanout: outbox
      ? { mode: 'group', state: outbox.state, total: outbox.total, done: outbox.done, attempts: outbox.attempts, lastError: outbox.lastError, finishedAt: outbox.finishedAt?.toISOString() ?? null }
      : { mode: 'inline', state: 'done in the publish transaction', total: null, done: null, attempts: null, lastError: null, finishedAt: null },
    deadLetters: dead.map((d) => ({
      id: d.id, user: d.userId, device: d.deviceId, fromSeq: d.fromSeq, toSeq: d.toSeq, attempts: d.attempts, reason: d.reason, state: d.state, createdAt: d.createdAt.toISOString(),
    })),
  };
}
