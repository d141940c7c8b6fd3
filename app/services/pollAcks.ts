// Acknowledgements of polls that resumed without a start statement (delivery/resumes.ts). A
// poll's `since` acknowledges what it names; rather than one statement per re-poll (500 a second
// in the unicast bench, as many as the publishes), acks made within FLUSH_MS share one statement
// per tenant. A poll is answered only after its ack is written (a pending one is hurried then), so
// a client that sees an answer sees its previous `since` acknowledged, as with a start statement.
// A failed write is logged and not retried: the device's cursor stays behind, which can only
// mean entries offered again, never lost.
import type { Queryable } from '../../db/pool.ts';
import { ackDevices } from '../../db/queries/devices.ts';

const FLUSH_MS = 50;
/** Devices in one statement, at most (its arrays travel as parameters). */
const CHUNK = 1000;

interface Round {
  byTenant: Map<string, Map<string, { userId: string; deviceId: string; seq: number }>>;
  done: Promise<void>;
  resolve: () => void;
}

export interface PendingAck {
  /** Settles when the ack is written (or its write failed). */
  done: Promise<void>;
  /** Writes it now if it still waits for the timer. */
  hurry(): void;
}

export class PollAcks {
  private round: Round | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly db: Queryable,
    private readonly onAcked: (n: number) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  ack(tenantId: string, userId: string, deviceId: string, seq: number): PendingAck {
    const round = (this.round ??= newRound());
    let byDevice = round.byTenant.get(tenantId);
    if (!byDevice) round.byTenant.set(tenantId, (byDevice = new Map()));
    const k = `${userId}\u0000${deviceId}`;
    const prev = byDevice.get(k);
    if (!prev || prev.seq < seq) byDevice.set(k, { userId, deviceId, seq });
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
    return { done: round.done, hurry: () => this.round === round && this.flush() };
  }

  /** Writes what is pending and waits for every write in flight (shutdown, tests). */
  async settle(): Promise<void> {
    this.flush();
    await Promise.all([...this.inflight]);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const round = this.round;
    this.round = null;
    if (!round) return;
    const writes: Promise<void>[] = [];
    for (const [tenantId, byDevice] of round.byTenant) {
      const notes = [...byDevice.values()];
      for (let i = 0; i < notes.length; i += CHUNK) {
        const part = notes.slice(i, i + CHUNK);
        writes.push(ackDevices(this.db, tenantId, part.map((n) => n.userId), part.map((n) => n.deviceId), part.map((n) => n.seq))
          .then((n) => {
            if (n > 0) this.onAcked(n);
          }, this.onError));
      }
    }
    const all = Promise.all(writes).then(round.resolve);
    this.inflight.add(all);
    void all.finally(() => this.inflight.delete(all));
  }
}

function newRound(): Round {
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  return { byTenant: new Map(), done, resolve };
}
