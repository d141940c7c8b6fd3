// Remembers what streams and polls wrote to which device (devices.delivered_seq), so that the
// compensation scan can find entries delivered but never acknowledged. A hint: notes made within
// FLUSH_MS are merged into one statement per tenant (a device's latest seq only), committed
// asynchronously, and a failed write is only logged (the next delivery writes it again). Merging
// per turn was not enough: a fan-out to 1,000 streams at 20 messages a second updated 20,000
// device rows a second, as many as the publishes' own inbox writes; the scan's deadlines are
// seconds, so a hint written up to FLUSH_MS late changes nothing it decides. 1 s rather than 200 ms:
// the fan-out bench's 1,000 streams cost 3 ms of PostgreSQL per group message in hints at 200 ms.
import type { Queryable } from '../../db/pool.ts';
import { noteDelivered } from '../../db/queries/delivery.ts';
import { DeviceSeqBatches } from './deviceSeqs.ts';

const FLUSH_MS = 1000;

export class DeliveredLog {
  private readonly batches: DeviceSeqBatches;

  constructor(db: Queryable, onError: (err: unknown) => void) {
    this.batches = new DeviceSeqBatches(FLUSH_MS, (tenantId, users, devices, seqs) => noteDelivered(db, tenantId, users, devices, seqs), onError);
  }

  note(tenantId: string, userId: string, deviceId: string, seq: number): void {
    this.batches.note(tenantId, userId, deviceId, seq);
  }

  /** Writes what is pending and waits for every write in flight (shutdown, tests). */
  settle(): Promise<void> {
    return this.batches.settle();
  }
}
