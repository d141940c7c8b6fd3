// The delivery record behind the trace: every write of inbox entries to a client connection is
// remembered as (device, first seq, last seq, transport, time). Writes are buffered in memory and
// stored by one INSERT per `flushMs` (asynchronous commit), off the delivery path: a poll answer or
// stream page never waits for it. The buffer is bounded; when the database lags, records are
// dropped (and counted) rather than memory growing. Old records are pruned in small batches.
import type { Queryable } from '../../db/pool.ts';
import { insertDeliveries, pruneDeliveries, type DeliveryRow } from '../../db/queries/ops.ts';

export interface DeliveryLogOptions {
  flushMs: number;
  retentionS: number;
  maxBuffered?: number;
  onError: (err: unknown) => void;
}

const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 5000;

export class DeliveryLog {
  private buf: DeliveryRow[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private lastPrune = Date.now();
  dropped = 0;

  constructor(private readonly db: Queryable, private readonly o: DeliveryLogOptions) {}

  record(row: DeliveryRow): void {
    if (this.buf.length >= (this.o.maxBuffered ?? 50_000)) {
      this.dropped++;
      return;
    }
    this.buf.push(row);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.o.flushMs);
  }

  /** Stores what is buffered (tests call it to make the record visible at once). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.buf.length === 0) return;
    const rows = this.buf;
    this.buf = [];
    this.flushing = (async () => {
      try {
        await insertDeliveries(this.db, rows);
        if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
          this.lastPrune = Date.now();
          await pruneDeliveries(this.db, this.o.retentionS, PRUNE_BATCH);
        }
      } catch (err) {
        this.dropped += rows.length;
        this.o.onError(err);
      }
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }
}
