// Remembers what streams and polls wrote to which device (devices.delivered_seq), so that the
// compensation scan can find entries delivered but never acknowledged. A hint: notes made in the
// same turn of the event loop are merged into one statement per tenant, committed asynchronously,
// and a failed write is only logged (the next delivery writes it again).
import type { Queryable } from '../../db/pool.ts';
import { noteDelivered } from '../../db/queries/delivery.ts';

interface Note {
  userId: string;
  deviceId: string;
  seq: number;
}

export class DeliveredLog {
  private pending = new Map<string, Map<string, Note>>();
  private scheduled = false;
  private inflight = new Set<Promise<void>>();

  constructor(private readonly db: Queryable, private readonly onError: (err: unknown) => void) {}

  note(tenantId: string, userId: string, deviceId: string, seq: number): void {
    let byDevice = this.pending.get(tenantId);
    if (!byDevice) this.pending.set(tenantId, (byDevice = new Map()));
    const k = `${userId}\u0000${deviceId}`;
    const prev = byDevice.get(k);
    if (!prev || prev.seq < seq) byDevice.set(k, { userId, deviceId, seq });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is pending and waits for every write in flight (shutdown, tests). */
  async settle(): Promise<void> {
    this.flush();
    await Promise.all([...this.inflight]);
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = new Map();
    for (const [tenantId, byDevice] of all) {
      const notes = [...byDevice.values()];
      const p = noteDelivered(this.db, tenantId, notes.map((n) => n.userId), notes.map((n) => n.deviceId), notes.map((n) => n.seq))
        .catch(this.onError)
        .finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
  }
}
