// The delivery record behind the trace: every write of inbox entries to a client connection is
// remembered as (device, first seq, last seq, transport, time). Writes are buffered in memory and
// stored by one INSERT per `flushMs` (asynchronous commit), off the delivery path: a poll answer or
// stream page never waits for it. The buffer is bounded; when the database lags, records are
// dropped (and counted) rather than memory growing. Old records are pruned in small batches.
// Writes to one device that continue each other (same transport, the next seqs) within one flush
// are one row, a run, each write keeping its own end and time: a stream in a group receiving 20
// messages a second wrote 20 rows a second, ~10 ms of PostgreSQL time per message to 1,000 such
// streams; now one (with the default 1 s flush).
import type { Queryable } from '../../db/pool.ts';
import { insertDeliveries, pruneDeliveries, type DeliveryRow, type DeliveryRun } from '../../db/queries/ops.ts';
import { deviceKey } from '../delivery/keys.ts';

export interface DeliveryLogOptions {
  flushMs: number;
  retentionS: number;
  maxBuffered?: number;
  onError: (err: unknown) => void;
}

const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 5000;
/** Writes in one run at most (bounds the row's arrays). */
const RUN_MAX = 64;

export class DeliveryLog {
  private buf: DeliveryRun[] = [];
  /** The run each device's next write may continue, by device key and transport (this flush only). */
  private open = new Map<string, DeliveryRun>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private lastPrune = Date.now();
  dropped = 0;

  constructor(private readonly db: Queryable, private readonly o: DeliveryLogOptions) {}

  record(row: DeliveryRow): void {
    const key = `${deviceKey(row.tenantId, row.userId, row.deviceId)}\u0000${row.transport}`;
    const run = this.open.get(key);
    if (run && run.lastSeq + 1 === row.firstSeq && run.ends.length < RUN_MAX) {
      run.lastSeq = row.lastSeq;
      run.ends.push(row.lastSeq);
      run.atMs.push(row.writtenAt.getTime() - run.writtenAt.getTime());
      return;
    }
    if (this.buf.length >= (this.o.maxBuffered ?? 50_000)) {
      this.dropped++;
      return;
    }
    const next: DeliveryRun = { ...row, ends: [row.lastSeq], atMs: [0] };
    this.buf.push(next);
    this.open.set(key, next);
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
    this.open = new Map();
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
