// A user's devices, read marker and the receipts of a sent message.
import type { Queryable } from '../../db/pool.ts';
import * as q from '../../db/queries/devices.ts';
import { ApiError } from '../errors.ts';
import type { Device } from './inbox.ts';

export const listDevices = q.listDevices;
export const touchDevices = q.touchDevices;

/** Sets the user's read marker (never backwards); beyond the head is a 400. */
export async function markRead(db: Queryable, d: Device, seq: number): Promise<number> {
  const read = await q.markRead(db, d.tenantId, d.userId, d.deviceId, seq);
  if (read === null) throw new ApiError('invalid_request', `seq ${seq} is beyond the inbox head`);
  return read;
}

export interface ReceiptsAsker {
  tenantId: string;
  /** The asking user (client token), or null for an admin key. */
  userId: string | null;
}

/**
 * The message and, per recipient, delivered (a device acknowledged it) and read. Only the sender
 * or an admin key may ask; anyone else learns nothing, not even that the message exists (404).
 */
export async function messageReceipts(db: Queryable, who: ReceiptsAsker, messageId: string, after: string | null, limit: number): Promise<{ body: string; recipients: q.Receipt[]; more: boolean }> {
  const m = await q.findMessage(db, who.tenantId, messageId);
  if (!m || (who.userId !== null && who.userId !== m.sender)) throw new ApiError('not_found', `no message ${messageId}`);
  const rows = await q.receipts(db, who.tenantId, messageId, after, limit + 1);
  const more = rows.length > limit;
  return { body: m.body, recipients: more ? rows.slice(0, limit) : rows, more };
}
