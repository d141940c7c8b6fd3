// Signals and presence events on this process's connections. A signal is delivered at most once
// to the recipients' connections open at that moment: streams get an id-less `signal` event,
// held polls answer with it. The sending process writes to its own connections at once and
// tells the others through NOTIFY (the same channel as wake-ups); each process skips its own echo.
//
// Honest counting: the sender can count only connections of its own process. When no other
// process listens on the database, that is every connection ("delivered": n); otherwise other
// processes may have reached more and do not report back ("delivered": "unknown").
import type { Pool } from '../../db/pool.ts';
import {
  resolveSignal, signalNotifications, parseSignalNotification, notifyAll, listeningProcesses, type SignalInput,
} from '../services/signals.ts';
import type { NotificationHandler } from './wakeups.ts';
import type { WaiterRegistry } from './waiters.ts';

/** Writes one id-less event to every connection of `users` here; returns how many took it. */
export function deliverLocal(registry: WaiterRegistry, tenantId: string, users: readonly string[], event: string, data: string, key: string): number {
  let n = 0;
  for (const u of users) {
    for (const w of registry.waitersOf(tenantId, u)) if (w.notice?.(event, data, key)) n++;
  }
  return n;
}

export interface SignalResult {
  recipients: number;
  /** Connections reached: every one when this is the only process, else "unknown". */
  delivered: number | 'unknown';
  /** Connections of this process reached. */
  here: number;
}

export interface SignallerOptions {
  /** This process's id in notifications (its echo is skipped). */
  origin: string;
  /** How long the count of listening processes is reused. */
  processesCacheMs?: number;
  /** Counts connections reached (metrics). */
  onDelivered?: (n: number) => void;
}

export class Signaller {
  private processes: { n: number; at: number } | null = null;

  constructor(private readonly db: Pool, private readonly registry: WaiterRegistry, private readonly o: SignallerOptions) {}

  async send(input: SignalInput): Promise<SignalResult> {
    const s = await resolveSignal(this.db, input);
    const here = deliverLocal(this.registry, s.tenantId, s.recipients, 'signal', s.json, s.key);
    this.o.onDelivered?.(here);
    const [, alone] = await Promise.all([
      notifyAll(this.db, signalNotifications(s, this.o.origin)),
      this.alone(),
    ]);
    return { recipients: s.recipients.length, delivered: alone ? here : 'unknown', here };
  }

  /** The `s` notification kind: signals sent by other processes. */
  readonly onNotification: NotificationHandler = (f) => {
    const s = parseSignalNotification(f);
    if (!s || s.origin === this.o.origin) return;
    this.o.onDelivered?.(deliverLocal(this.registry, s.tenantId, s.recipients, 'signal', s.json, s.key));
  };

  /** True when no other process listens (so this process's count is the whole count). */
  private async alone(): Promise<boolean> {
    const ttl = this.o.processesCacheMs ?? 2000;
    if (!this.processes || Date.now() - this.processes.at > ttl) {
      this.processes = { n: await listeningProcesses(this.db), at: Date.now() };
    }
    // Exactly one: this process. Zero means the count cannot be trusted (listener down, or
    // pg_stat_activity hides sessions): not alone as far as anyone can tell.
    return this.processes.n === 1;
  }
}

/** The `p` notification kind: p|tenant|user|1 or 0|recipients — an id-less `presence` event. */
export function presenceEvents(registry: WaiterRegistry): NotificationHandler {
  return (f) => {
    const [, tenantId, userId, state, users] = f;
    if (!tenantId || !userId || (state !== '1' && state !== '0') || !users) return;
    const data = `{"user":${JSON.stringify(userId)},"online":${state === '1'}}`;
    deliverLocal(registry, tenantId, users.split(','), 'presence', data, `presence:${userId}`);
  };
}
