// Cursor use cases: where a poll or stream starts, acknowledging, and history.
import type { Queryable } from '../../db/pool.ts';
import * as q from '../../db/queries/inbox.ts';
import { ApiError } from '../errors.ts';
import type { DeviceTouches } from './touches.ts';

export interface Device {
  tenantId: string;
  userId: string;
  deviceId: string;
}

export interface Start {
  /** Deliver entries with seq > since. */
  since: number;
  head: number;
  read: number;
  floor: number;
  /** Entries this start acknowledged (a poll's `since` moving the cursor). */
  newlyAcked: number;
}

function expired(floor: number): ApiError {
  return new ApiError('cursor_expired', 'the cursor is older than the retained history; resume from oldest - 1', { oldest: floor + 1 });
}

/**
 * Resolves the starting cursor of a poll: an explicit `since` (checked against the inbox, and
 * acknowledged unless ack=false, as Telegram's offset) or else the device's own cursor.
 */
export async function startPoll(touches: DeviceTouches, d: Device, since: number | null, ack: boolean): Promise<Start> {
  const st = await touches.touch(d.tenantId, d.userId, d.deviceId, since !== null && ack ? since : null);
  const from = since ?? st.acked;
  if (from > st.head) throw new ApiError('cursor_ahead', `since ${from} is beyond the inbox head ${st.head}`, { head: st.head });
  if (from < st.floor) throw expired(st.floor);
  return { since: from, head: st.head, read: st.read, floor: st.floor, newlyAcked: st.acked - st.prev };
}

/**
 * Where a stream starts: an explicit cursor (Last-Event-ID or since), else the device's cursor.
 * A cursor behind retention is not an error on a stream: the stream sends `reset` and goes on
 * from the oldest retained entry.
 */
export async function startStream(touches: DeviceTouches, d: Device, since: number | null): Promise<Start & { reset: boolean }> {
  const st = await touches.touch(d.tenantId, d.userId, d.deviceId, null);
  const from = since ?? st.acked;
  if (from > st.head) throw new ApiError('cursor_ahead', `cursor ${from} is beyond the inbox head ${st.head}`, { head: st.head });
  if (from < st.floor) return { since: st.floor, head: st.head, read: st.read, floor: st.floor, newlyAcked: 0, reset: true };
  return { since: from, head: st.head, read: st.read, floor: st.floor, newlyAcked: 0, reset: false };
}

/** Returns the cursor and how many entries this call newly acknowledged. */
export async function ack(db: Queryable, d: Device, seq: number): Promise<{ acked: number; newly: number }> {
  const st = await q.ackDevice(db, d.tenantId, d.userId, d.deviceId, seq);
  if (!st) throw new ApiError('invalid_request', `seq ${seq} is beyond the inbox head`);
  return { acked: st.acked, newly: st.acked - st.prev };
}

export async function history(db: Queryable, h: q.HistoryQuery): Promise<{ rows: q.HistoryRow[]; more: boolean }> {
  const rows = await q.history(db, { ...h, limit: h.limit + 1 });
  const more = rows.length > h.limit;
  return { rows: more ? rows.slice(0, h.limit) : rows, more };
}

export const heads = q.readHeads;
