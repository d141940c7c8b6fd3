// What the HTTP layer reports about deliveries: metrics (count, latency) and the delivery record.
// Either part may be switched off by config; then its cost is one null check.
import type { Entry } from '../services/reader.ts';
import type { Metrics, Transport } from './metrics.ts';
import type { DeliveryLog } from './deliveryLog.ts';
import type { Stats } from './stats.ts';

export interface Ops {
  metrics: Metrics | null;
  deliveries: DeliveryLog | null;
  stats: Stats;
}

const CREATED = '"createdAt":"';

/**
 * The message's createdAt from a message body (built by buildBodyJson: createdAt comes after
 * the payload, so the last occurrence is the real one, found scanning back a few dozen bytes).
 */
export function createdAtMs(json: string): number {
  const i = json.lastIndexOf(CREATED);
  return i < 0 ? NaN : Date.parse(json.slice(i + CREATED.length, i + CREATED.length + 24));
}

export interface Target {
  tenantId: string;
  userId: string;
  deviceId: string;
}

/** Entries were just handed to the socket of one device's poll or stream. */
export function delivered(ops: Ops, t: Target, transport: Transport, entries: readonly Entry[]): void {
  if (entries.length === 0) return;
  const now = Date.now();
  if (ops.metrics) {
    const created: number[] = [];
    for (const e of entries) {
      const c = createdAtMs(e.body);
      if (!Number.isNaN(c)) created.push(c);
    }
    ops.metrics.delivery(transport, created, now);
  }
  ops.deliveries?.record({
    tenantId: t.tenantId, userId: t.userId, deviceId: t.deviceId,
    firstSeq: entries[0]!.seq, lastSeq: entries[entries.length - 1]!.seq, transport, writtenAt: new Date(now),
  });
}
