// Remembers what streams and polls wrote to which device (devices.delivered_seq), so that the
// compensation scan can find entries delivered but never acknowledged. A hint: notes made within
// FLUSH_MS are merged into one statement per tenant (a device's latest seq only), committed
// asynchronously, and a failed write is only logged (the next delivery writes it again). Merging
// per turn was not enough: a fan-out to 1,000 streams at 20 messages a second updated 20,000
// device rows a second, as many as the publishes' own inbox writes; the scan's deadlines are
// seconds, so a hint written up to FLUSH_MS late changes nothing it decides.
import type { Queryable } from '../../db/pool.ts';
import { noteDelivered } from '../../db/queries/delivery.ts';

const FLUSH_MS = 200;

interface Note {
  userId: string;
  deviceId: string;
  seq: number;
}

export class DeliveredLog {
  private pending = new Map<string, Map<string, Note>>();
  private timer: NodeJS.Timeout | null = null;
  private inflight = new Set<Promise<void>>();

  constructor(private readonly db: Queryable, private readonly onError: (err: unknown) => void) {}

  note(tenantId: string, userId: string, deviceId: string, seq: number): void {
    let byDevice = this.pending.get(tenantId);
    if (!byDevice) this.pending.set(tenantId, (byDevice = new Map()));
    const k = `${userId}\u0000${deviceId}`;
    const prev = byDevice.get(k);
    if (!prev || prev.seq < seq) byDevice.set(k, { userId, deviceId, seq });
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Writes what is pending and waits for every write in flight (shutdown, tests). */
  async settle(): Promise<void> {
    this.flush();
    await Promise.all([...this.inflight]);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
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
