// Per-device sequence numbers written in batches: for each tenant, every device's highest seq
// noted within `flushMs` goes into one statement (at most CHUNK devices each). Delivered hints
// (delivered.ts) and resumed polls' acknowledgements (pollAcks.ts) are written this way; a note's
// handle tells when its round was written and can ask for it to be written now.
import { deviceKey } from '../delivery/keys.ts';

const CHUNK = 1000;

/** Writes one tenant's devices (parallel arrays). */
export type DeviceSeqWriter = (tenantId: string, users: string[], devices: string[], seqs: number[]) => Promise<void>;

interface Round {
  /** By device key: each device's highest seq this round. */
  notes: Map<string, { tenantId: string; userId: string; deviceId: string; seq: number }>;
  done: Promise<void>;
  resolve: () => void;
}

export interface Noted {
  /** Settles when the note's round is written (or its write failed: see onError). */
  done: Promise<void>;
  /** Writes the round now if it still waits for its timer. */
  hurry(): void;
}

export class DeviceSeqBatches {
  private round: Round | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly flushMs: number,
    private readonly write: DeviceSeqWriter,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Notes a device's seq; a lower one than already noted this round changes nothing. */
  note(tenantId: string, userId: string, deviceId: string, seq: number): Noted {
    const round = (this.round ??= newRound());
    const k = deviceKey(tenantId, userId, deviceId);
    const prev = round.notes.get(k);
    if (!prev || prev.seq < seq) round.notes.set(k, { tenantId, userId, deviceId, seq });
    this.timer ??= setTimeout(() => this.flush(), this.flushMs);
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
    const byTenant = new Map<string, { userId: string; deviceId: string; seq: number }[]>();
    for (const n of round.notes.values()) {
      let list = byTenant.get(n.tenantId);
      if (!list) byTenant.set(n.tenantId, (list = []));
      list.push(n);
    }
    const writes: Promise<void>[] = [];
    for (const [tenantId, notes] of byTenant) {
      for (let i = 0; i < notes.length; i += CHUNK) {
        const part = notes.slice(i, i + CHUNK);
        writes.push(this.write(tenantId, part.map((n) => n.userId), part.map((n) => n.deviceId), part.map((n) => n.seq)).catch(this.onError));
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
  return { notes: new Map(), done, resolve };
}
