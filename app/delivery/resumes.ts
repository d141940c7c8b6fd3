// Polls that resume where a settled answer left off. A long-poll client answered with everything
// up to `next` (or timed out there) polls again at once with since=next. Its start statement
// would only tell what this process can know already: nothing past `next` was committed unless a
// wake-up for the user arrived meanwhile, and the registry watches for exactly that from the
// moment the answer was made (the poll itself heard every wake until then; see
// PollOutcome.settled). Such a poll registers at once and waits; its acknowledgement of `next` is
// written in a batch (PollAcks). Anything doubtful — a wake, a read marker, a reconnected LISTEN
// connection, another cursor, an old answer — makes the poll start as usual.
import type { WaiterRegistry } from './waiters.ts';
import { deviceKey } from './keys.ts';

interface Resume {
  next: number;
  /** The read marker the answer carried (a read-marker change disturbs the watch). */
  read: number;
  at: number;
  endWatch: () => number;
}

export interface Resumed {
  read: number;
}

export class Resumes {
  private readonly byDevice = new Map<string, Resume>();

  constructor(
    private readonly registry: WaiterRegistry,
    /** Wake-ups are only trusted while notifications arrive. */
    private readonly listening: () => boolean,
    private readonly max = 20_000,
    private readonly ttlMs = 10_000,
  ) {}

  /** A poll of this device was answered, settled, up to `next`: watch for what comes after. */
  put(tenantId: string, userId: string, deviceId: string, next: number, read: number): void {
    const k = deviceKey(tenantId, userId, deviceId);
    this.drop(k);
    this.byDevice.set(k, { next, read, at: Date.now(), endWatch: this.registry.watch(tenantId, userId) });
    this.expire(Date.now());
  }

  /**
   * Whether a poll of this device from `since` may wait without a start statement; the record is
   * used up either way. The caller must register the poll before yielding to the event loop.
   */
  take(tenantId: string, userId: string, deviceId: string, since: number): Resumed | null {
    const k = deviceKey(tenantId, userId, deviceId);
    this.expire(Date.now());
    const r = this.byDevice.get(k);
    if (!r) return null;
    this.drop(k);
    const woken = r.endWatch();
    if (r.next !== since || woken > since || Date.now() - r.at > this.ttlMs || !this.listening()) return null;
    return { read: r.read };
  }

  get size(): number {
    return this.byDevice.size;
  }

  private drop(k: string): void {
    const r = this.byDevice.get(k);
    if (!r) return;
    this.byDevice.delete(k);
    r.endWatch();
  }

  /** Oldest first (a Map iterates in insertion order): expired ones and any beyond `max`. */
  private expire(now: number): void {
    for (const [k, r] of this.byDevice) {
      if (this.byDevice.size <= this.max && now - r.at <= this.ttlMs) break;
      this.drop(k);
    }
  }
}
