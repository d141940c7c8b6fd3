// Signals (QoS 0): resolving who a signal reaches, and the notifications that carry it to the
// other processes. A signal is never stored: no message row, no inbox entry, no seq.
//
// Notification: s|<tenant>|<origin>|<key>|<user>,<user>…|<signal JSON>
//   origin: the sending process (it delivered to its own connections already and skips its echo);
//   key: sender and type, so a stalled stream keeps only the latest signal of each (streams.ts).
// The JSON comes last and may itself contain '|'. Recipients are split across as many
// notifications as needed to keep each under PostgreSQL's 8000-byte payload limit.
import type { Queryable } from '../../db/pool.ts';
import * as q from '../../db/queries/signals.ts';
import { ApiError } from '../errors.ts';

export interface SignalInput {
  tenantId: string;
  sender: string;
  /** A client token sends as its user: it may signal only users it shares a group with (and itself). */
  fromToken: boolean;
  to: readonly string[] | null;
  group: string | null;
  type: string;
  /** Validated and size-checked at the edge. */
  payloadJson: string;
}

export interface Signal {
  tenantId: string;
  recipients: string[];
  /** The `signal` event's data. */
  json: string;
  key: string;
}

/** Who the signal reaches, after the sender's rights are checked; and its JSON. */
export async function resolveSignal(db: Queryable, i: SignalInput, at = new Date()): Promise<Signal> {
  let recipients: string[];
  if (i.group !== null) {
    const g = await q.groupAudience(db, i.tenantId, i.group, i.sender);
    if (!g) throw new ApiError('not_found', `group: unknown group "${i.group}"`);
    if (i.fromToken && !g.senderIsMember) throw new ApiError('forbidden', `group: ${i.sender} is not a member of "${i.group}"`);
    recipients = g.members;
  } else {
    recipients = [...new Set(i.to ?? [])];
    if (i.fromToken) {
      const others = recipients.filter((u) => u !== i.sender);
      const ok = others.length ? await q.sharingAGroup(db, i.tenantId, i.sender, others) : new Set<string>();
      const denied = others.find((u) => !ok.has(u));
      if (denied !== undefined) throw new ApiError('forbidden', `to: ${i.sender} shares no group with "${denied}"`);
    }
  }
  const json = `{"type":${JSON.stringify(i.type)},"from":${JSON.stringify(i.sender)},"group":${JSON.stringify(i.group)},"payload":${i.payloadJson},"at":"${at.toISOString()}"}`;
  return { tenantId: i.tenantId, recipients, json, key: `signal:${i.sender}:${i.type}` };
}

/** PostgreSQL refuses a payload of 8000 bytes or more; a little margin. */
export const NOTIFY_MAX_BYTES = 7900;

/** The notifications carrying `s` to the other processes: every recipient in exactly one. */
export function signalNotifications(s: Signal, origin: string): string[] {
  const head = `s|${s.tenantId}|${origin}|${s.key}|`;
  const fixed = Buffer.byteLength(head) + 1 + Buffer.byteLength(s.json);
  const room = NOTIFY_MAX_BYTES - fixed;
  // Ids are ASCII of at most 128 characters (validated), plus a comma.
  if (room < 129) throw new Error(`signal too large for a notification (${fixed} bytes before recipients)`);
  const out: string[] = [];
  let batch: string[] = [];
  let used = 0;
  for (const u of s.recipients) {
    if (batch.length && used + 1 + u.length > room) {
      out.push(`${head}${batch.join(',')}|${s.json}`);
      batch = [];
      used = 0;
    }
    used += (batch.length ? 1 : 0) + u.length;
    batch.push(u);
  }
  if (batch.length) out.push(`${head}${batch.join(',')}|${s.json}`);
  return out;
}

export interface ParsedSignal {
  tenantId: string;
  origin: string;
  key: string;
  recipients: string[];
  json: string;
}

/** The fields of an `s` notification (already split on '|'), or null when malformed. */
export function parseSignalNotification(f: readonly string[]): ParsedSignal | null {
  const [, tenantId, origin, key, users] = f;
  if (!tenantId || !origin || !key || !users || f.length < 6) return null;
  return { tenantId, origin, key, recipients: users.split(','), json: f.slice(5).join('|') };
}

export const notifyAll = q.notifyAll;
export const listeningProcesses = q.listeningProcesses;
