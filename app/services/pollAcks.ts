// Acknowledgements of polls that resumed without a start statement (delivery/resumes.ts). A
// poll's `since` acknowledges what it names; rather than one statement per re-poll (500 a second
// in the unicast bench, as many as the publishes), acks made within FLUSH_MS share one statement
// per tenant. A poll is answered only after its ack is written (a pending one is hurried then), so
// a client that sees an answer sees its previous `since` acknowledged, as with a start statement.
// A failed write is logged and not retried: the device's cursor stays behind, which can only
// mean entries offered again, never lost.
import type { Queryable } from '../../db/pool.ts';
import { ackDevices } from '../../db/queries/devices.ts';
import { DeviceSeqBatches, type Noted } from './deviceSeqs.ts';

const FLUSH_MS = 50;

export type PendingAck = Noted;

export class PollAcks {
  private readonly batches: DeviceSeqBatches;

  constructor(db: Queryable, onAcked: (n: number) => void, onError: (err: unknown) => void) {
    this.batches = new DeviceSeqBatches(FLUSH_MS, async (tenantId, users, devices, seqs) => {
      const n = await ackDevices(db, tenantId, users, devices, seqs);
      if (n > 0) onAcked(n);
    }, onError);
  }

  ack(tenantId: string, userId: string, deviceId: string, seq: number): PendingAck {
    return this.batches.note(tenantId, userId, deviceId, seq);
  }

  /** Writes what is pending and waits for every write in flight (shutdown, tests). */
  settle(): Promise<void> {
    return this.batches.settle();
  }
}
