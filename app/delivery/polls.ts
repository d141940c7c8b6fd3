// One held long poll. Registered before its first read (so a message committed between the read
// and the registration cannot be missed), answered exactly once.
//
// States: WAITING -> WOKEN (entries found) | TIMED_OUT | SUPERSEDED | CLOSED (client went away or
// server shutting down). Any wake in WAITING leads to a database read; an empty read (a stale or
// duplicate hint) keeps waiting.
import type { InboxReader, Entry } from '../services/reader.ts';
import type { PollWaiter, WaiterRegistry } from './waiters.ts';

export type PollEnd = 'message' | 'timeout' | 'superseded' | 'closed' | 'shutdown';

export interface PollOutcome {
  end: PollEnd;
  entries: Entry[];
  /** True when the inbox holds more after the last entry returned. */
  more: boolean;
}

type State = 'WAITING' | 'WOKEN' | 'TIMED_OUT' | 'SUPERSEDED' | 'CLOSED';

export class PollSession implements PollWaiter {
  readonly kind = 'poll' as const;
  private state: State = 'WAITING';
  private reading = false;
  private again = false;

  constructor(
    private readonly registry: WaiterRegistry,
    private readonly reader: InboxReader,
    readonly tenantId: string,
    readonly userId: string,
    readonly deviceId: string,
    readonly cursor: number,
    private readonly limit: number,
    readonly deadline: number,
    private readonly onEnd: (o: PollOutcome) => void,
  ) {}

  get waiting(): boolean {
    return this.state === 'WAITING';
  }

  /** Registers, then reads. Rejects only if that first read fails (the caller answers 503). */
  async start(): Promise<void> {
    this.registry.addPoll(this);
    try {
      await this.check();
    } catch (err) {
      if (this.state === 'WAITING') {
        this.state = 'CLOSED';
        this.registry.remove(this);
      }
      throw err;
    }
  }

  wake(): void {
    if (this.state !== 'WAITING') return;
    // A failed re-read is not fatal: the poll keeps waiting, and the safety tick wakes it again.
    this.check().catch(() => undefined);
  }

  supersede(): void {
    this.finish('SUPERSEDED', 'superseded');
  }

  timeout(): void {
    this.finish('TIMED_OUT', 'timeout');
  }

  shutdown(): void {
    this.finish('CLOSED', 'shutdown');
  }

  /** The client closed the connection. */
  abandon(): void {
    if (this.state !== 'WAITING') return;
    this.state = 'CLOSED';
    this.registry.remove(this);
  }

  private async check(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.again = false;
        // One extra entry tells whether there is more than a page.
        const entries = await this.reader.read(this.tenantId, this.userId, this.cursor, this.limit + 1);
        if (this.state !== 'WAITING') return;
        if (entries.length > 0) {
          const more = entries.length > this.limit;
          this.finish('WOKEN', 'message', more ? entries.slice(0, this.limit) : entries, more);
          return;
        }
      } while (this.again);
    } finally {
      this.reading = false;
    }
  }

  private finish(state: State, end: PollEnd, entries: Entry[] = [], more = false): void {
    if (this.state !== 'WAITING') return;
    this.state = state;
    this.registry.remove(this);
    this.onEnd({ end, entries, more });
  }
}
