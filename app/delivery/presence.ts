// Presence decisions of this process. A user is online while any device holds a poll or stream on
// any process, or was seen within the online window. This process reports what it sees; the
// database decides the changes (db/queries/presence.ts), so each change is announced once across
// all processes:
//   - a user who connects here is asserted online at the next tick (a fraction of a second);
//   - users held here are re-asserted every quarter window, so their seen_at never ages out;
//   - every sixth of a window the sweep turns users not seen for a window offline.
// A client that reconnects within the window therefore causes no offline/online flap, and a user
// goes offline between 3/4 of a window and a window (+ one sweep) after the last connection ends.
import { userKey } from './keys.ts';

export type AssertOnline = (tenantId: string, users: readonly string[], windowS: number) => Promise<string[]>;
export type SweepOffline = (windowS: number, limit: number) => Promise<{ tenantId: string; userId: string }[]>;

interface Source {
  usersByTenant(): Map<string, Map<string, number>>;
}

export interface PresenceOptions {
  windowS: number;
  tickMs?: number;
  onError: (err: unknown) => void;
  /** Users this process asserted (a write each), and the changes it decided. */
  onAsserted?: (n: number) => void;
  onChange?: (online: boolean, n: number) => void;
}

const SWEEP_LIMIT = 1000;

export class PresenceTracker {
  /** Users who connected here since the last tick, by tenant. */
  private fresh = new Map<string, Set<string>>();
  /** When this process last asserted a user (skips a write per poll of a poll loop). */
  private assertedAt = new Map<string, number>();
  private timer: NodeJS.Timeout;
  private running: Promise<void> | null = null;
  private nextRefresh = 0;
  private nextSweep = 0;
  private readonly refreshMs: number;
  private readonly sweepMs: number;

  constructor(private readonly source: Source, private readonly assert: AssertOnline, private readonly sweep: SweepOffline, private readonly o: PresenceOptions) {
    this.refreshMs = (o.windowS * 1000) / 4;
    this.sweepMs = Math.max(250, (o.windowS * 1000) / 6);
    this.timer = setInterval(() => void this.tick(), o.tickMs ?? 200);
    this.timer.unref();
  }

  /** A poll or stream of the user was registered here. */
  seen(tenantId: string, userId: string): void {
    const k = userKey(tenantId, userId);
    const at = this.assertedAt.get(k);
    if (at !== undefined && Date.now() - at < this.refreshMs) return;
    let set = this.fresh.get(tenantId);
    if (!set) this.fresh.set(tenantId, (set = new Set()));
    set.add(userId);
  }

  /** Stops the rounds; resolves when a round in flight has finished (before the pool closes). */
  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.running ?? Promise.resolve();
  }

  /** One round: assert new (and, every quarter window, all held) users; sweep when due. */
  tick(now = Date.now()): Promise<void> {
    // A slow database must not pile up rounds.
    this.running ??= this.round(now).finally(() => { this.running = null; });
    return this.running;
  }

  private async round(now: number): Promise<void> {
    try {
      const due = this.fresh;
      this.fresh = new Map();
      if (now >= this.nextRefresh) {
        this.nextRefresh = now + this.refreshMs;
        for (const [k, at] of this.assertedAt) if (now - at >= this.refreshMs) this.assertedAt.delete(k);
        for (const [tenantId, users] of this.source.usersByTenant()) {
          let set = due.get(tenantId);
          if (!set) due.set(tenantId, (set = new Set()));
          for (const u of users.keys()) set.add(u);
        }
      }
      for (const [tenantId, users] of due) await this.assertTenant(tenantId, users, now);
      if (now >= this.nextSweep) {
        this.nextSweep = now + this.sweepMs;
        for (;;) {
          const down = await this.sweep(this.o.windowS, SWEEP_LIMIT);
          if (down.length) this.o.onChange?.(false, down.length);
          if (down.length < SWEEP_LIMIT) break;
        }
      }
    } catch (err) {
      this.o.onError(err);
    }
  }

  private async assertTenant(tenantId: string, users: Set<string>, now: number): Promise<void> {
    // Sorted: the row lock order, the same in every process.
    const list = [...users].sort();
    for (let i = 0; i < list.length; i += 5000) {
      const part = list.slice(i, i + 5000);
      try {
        const changed = await this.assert(tenantId, part, this.o.windowS);
        for (const u of part) this.assertedAt.set(userKey(tenantId, u), now);
        this.o.onAsserted?.(part.length);
        if (changed.length) this.o.onChange?.(true, changed.length);
      } catch (err) {
        // Try again next round rather than lose a user's online change; other tenants go on.
        for (const u of part) this.seen(tenantId, u);
        this.o.onError(err);
      }
    }
  }
}
