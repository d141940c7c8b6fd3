// The waiter registry: every held poll and open stream of this process, indexed by user (for
// wake-ups) and by device (one pending poll per device). It is the per-client timeout map: poll
// deadlines live in a timer wheel of coarse buckets swept by one interval, so a held poll costs a
// Set entry, not a timer of its own; the same sweep drives stream heartbeats and lifetimes.
//
// A poll's states: WAITING -> WOKEN | TIMED_OUT | SUPERSEDED | CLOSED (see polls.ts).
// The registry holds no SQL and no HTTP: waiters bring their own behaviour.
import type { Entry } from '../services/reader.ts';
import { userKey, deviceKey } from './keys.ts';

export interface Waiter {
  readonly kind: 'poll' | 'stream';
  readonly tenantId: string;
  readonly userId: string;
  readonly deviceId: string;
  /** The highest seq this waiter has been given; a wake with a higher head means "read more". */
  readonly cursor: number;
  /** Something may have arrived up to `head` (a hint: the waiter reads the database to know). */
  wake(head: number): void;
  /**
   * Entries just committed by this process, gap-free and in seq order: a waiter whose cursor they
   * continue may take them without reading; any other wakes as for `wake`.
   */
  offer?(entries: readonly Entry[]): void;
  /** Called by the sweep about once a `tickMs`. */
  tick?(now: number): void;
  /**
   * An event that is not an inbox entry (read markers, signals, presence); `key` names what a
   * newer event of the same key supersedes. False when the connection did not take it.
   */
  notice?(event: string, data: string, key?: string): boolean;
}

export interface PollWaiter extends Waiter {
  readonly kind: 'poll';
  readonly deadline: number;
  /** The poll is answered because of a newer poll of the same device. */
  supersede(): void;
  /** The deadline passed. */
  timeout(): void;
  /** The server is shutting down: answer now. */
  shutdown(): void;
  /** Something this poll cannot see changed (a read marker, lost notifications): its answer is not final. */
  unsettle(): void;
}

export interface StreamWaiter extends Waiter {
  readonly kind: 'stream';
  shutdown(): void;
  /** Sends again everything after `cursor` (a re-offer of unacknowledged entries). */
  rewind?(cursor: number): void;
  /** An event without an id (read markers, signals, presence): not part of the inbox, never replayed. */
  notice(event: string, data: string, key?: string): boolean;
}


export class WaiterRegistry {
  private byUser = new Map<string, Set<Waiter>>();
  private pollByDevice = new Map<string, PollWaiter>();
  private wheel = new Map<number, Set<PollWaiter>>();
  private bucketOf = new Map<PollWaiter, number>();
  private streams = new Set<StreamWaiter>();
  /** Users whose inbox head is being read by a poll about to register: the highest head woken since. */
  private watches = new Map<string, { count: number; head: number }>();
  private sweepTimer: NodeJS.Timeout;
  private lastSwept: number;

  /** `onAdd` learns of every poll and stream registered (presence: the user is connected here). */
  constructor(private readonly tickMs = 250, private readonly onAdd?: (w: Waiter) => void) {
    this.lastSwept = this.bucket(Date.now());
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), tickMs);
    this.sweepTimer.unref();
  }

  get polls(): number {
    return this.pollByDevice.size;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Registers a poll; a pending poll of the same device is superseded first. */
  addPoll(w: PollWaiter): void {
    const dk = deviceKey(w.tenantId, w.userId, w.deviceId);
    const old = this.pollByDevice.get(dk);
    if (old) {
      this.remove(old);
      old.supersede();
    }
    this.pollByDevice.set(dk, w);
    this.index(w);
    // The bucket after the deadline's (never fire early), and never one already swept.
    const b = Math.max(this.bucket(w.deadline) + this.tickMs, this.lastSwept);
    this.bucketOf.set(w, b);
    let set = this.wheel.get(b);
    if (!set) this.wheel.set(b, (set = new Set()));
    set.add(w);
  }

  addStream(w: StreamWaiter): void {
    this.streams.add(w);
    this.index(w);
  }

  /** Idempotent: removing twice, or a waiter never added, is harmless. */
  remove(w: Waiter): void {
    const uk = userKey(w.tenantId, w.userId);
    const set = this.byUser.get(uk);
    if (set?.delete(w) && set.size === 0) this.byUser.delete(uk);
    if (w.kind === 'poll') {
      const p = w as PollWaiter;
      const dk = deviceKey(w.tenantId, w.userId, w.deviceId);
      if (this.pollByDevice.get(dk) === p) this.pollByDevice.delete(dk);
      const b = this.bucketOf.get(p);
      if (b !== undefined) {
        this.bucketOf.delete(p);
        const bs = this.wheel.get(b);
        if (bs?.delete(p) && bs.size === 0) this.wheel.delete(b);
      }
    } else {
      this.streams.delete(w as StreamWaiter);
    }
  }

  /**
   * Watches a user's wake-ups while a poll reads the inbox head, before it registers. The returned
   * function ends the watch and gives the highest head woken meanwhile (0 if none). A commit the
   * read did not see notifies after the watch began: it is either seen here or wakes the poll
   * once registered. So a poll whose cursor is at the head it read, with no wake meanwhile, can
   * wait without reading its entries first (they cannot exist).
   */
  watch(tenantId: string, userId: string): () => number {
    const uk = userKey(tenantId, userId);
    let w = this.watches.get(uk);
    if (!w) this.watches.set(uk, (w = { count: 0, head: 0 }));
    w.count++;
    const watched = w;
    let ended = false;
    return () => {
      if (!ended) {
        ended = true;
        if (--watched.count === 0 && this.watches.get(uk) === watched) this.watches.delete(uk);
      }
      return watched.head;
    };
  }

  /**
   * Something about one user changed that wake-ups do not carry (a read marker): watches end
   * with "woken" and held polls answer as not settled, so the next poll reads the database.
   */
  disturb(tenantId: string, userId: string): void {
    const uk = userKey(tenantId, userId);
    const watched = this.watches.get(uk);
    if (watched) watched.head = Number.MAX_SAFE_INTEGER;
    for (const w of this.byUser.get(uk) ?? []) if (w.kind === 'poll') (w as PollWaiter).unsettle();
  }

  /** Notifications may have been lost (LISTEN reconnected, a publish of unknown outcome): disturb everyone. */
  disturbAll(): void {
    for (const w of this.watches.values()) w.head = Number.MAX_SAFE_INTEGER;
    for (const p of this.pollByDevice.values()) p.unsettle();
  }

  /** Wakes this process's waiters of one user whose cursor is behind `head`. */
  wake(tenantId: string, userId: string, head: number): number {
    return this.reach(tenantId, userId, head, null);
  }

  /**
   * Entries this process just committed for one user, up to `head`: offered to the user's waiters
   * (built only if one is behind), which take them or read. This process skips the commit's own
   * notification; waiters in other processes are woken by it.
   */
  deliver(tenantId: string, userId: string, head: number, entries: () => Entry[]): number {
    return this.reach(tenantId, userId, head, entries);
  }

  private reach(tenantId: string, userId: string, head: number, entries: (() => Entry[]) | null): number {
    const uk = userKey(tenantId, userId);
    const watched = this.watches.get(uk);
    if (watched && head > watched.head) watched.head = head;
    const set = this.byUser.get(uk);
    if (!set) return 0;
    let n = 0;
    let built: Entry[] | null = null;
    for (const w of [...set]) {
      if (head > w.cursor) {
        if (entries && w.offer) w.offer((built ??= entries()));
        else w.wake(head);
        n++;
      }
    }
    return n;
  }

  /** Rewinds this process's streams of one device to its acknowledged cursor; returns how many. */
  reoffer(tenantId: string, userId: string, deviceId: string, acked: number): number {
    let n = 0;
    for (const w of this.waitersOf(tenantId, userId)) {
      if (w.kind === 'stream' && w.deviceId === deviceId && (w as StreamWaiter).rewind) {
        (w as StreamWaiter).rewind!(acked);
        n++;
      }
    }
    return n;
  }

  /** Every waiter of one user (signals, read events). */
  waitersOf(tenantId: string, userId: string): readonly Waiter[] {
    const set = this.byUser.get(userKey(tenantId, userId));
    return set ? [...set] : [];
  }

  /** The devices holding a poll or stream here, grouped by tenant (keeps their last_seen fresh). */
  devicesByTenant(): Map<string, { users: string[]; devices: string[] }> {
    const out = new Map<string, { users: string[]; devices: string[] }>();
    const seen = new Set<string>();
    for (const set of this.byUser.values()) {
      for (const w of set) {
        const dk = deviceKey(w.tenantId, w.userId, w.deviceId);
        if (seen.has(dk)) continue;
        seen.add(dk);
        let t = out.get(w.tenantId);
        if (!t) out.set(w.tenantId, (t = { users: [], devices: [] }));
        t.users.push(w.userId);
        t.devices.push(w.deviceId);
      }
    }
    return out;
  }

  /** Users with waiters here, grouped by tenant, with the lowest cursor per user (safety tick). */
  usersByTenant(): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>();
    for (const set of this.byUser.values()) {
      for (const w of set) {
        let users = out.get(w.tenantId);
        if (!users) out.set(w.tenantId, (users = new Map()));
        const c = users.get(w.userId);
        if (c === undefined || w.cursor < c) users.set(w.userId, w.cursor);
      }
    }
    return out;
  }

  /** Answers every poll and closes every stream (shutdown). */
  closeAll(): void {
    for (const p of [...this.pollByDevice.values()]) {
      this.remove(p);
      p.shutdown();
    }
    for (const s of [...this.streams]) {
      this.remove(s);
      s.shutdown();
    }
  }

  stop(): void {
    clearInterval(this.sweepTimer);
  }

  private index(w: Waiter): void {
    this.onAdd?.(w);
    const uk = userKey(w.tenantId, w.userId);
    let set = this.byUser.get(uk);
    if (!set) this.byUser.set(uk, (set = new Set()));
    set.add(w);
  }

  private bucket(t: number): number {
    return t - (t % this.tickMs);
  }

  private sweep(now: number): void {
    const upTo = this.bucket(now);
    for (let b = this.lastSwept; b <= upTo; b += this.tickMs) {
      const due = this.wheel.get(b);
      if (!due) continue;
      this.wheel.delete(b);
      for (const p of due) {
        this.remove(p);
        p.timeout();
      }
    }
    this.lastSwept = upTo + this.tickMs;
    for (const s of this.streams) s.tick?.(now);
  }
}
