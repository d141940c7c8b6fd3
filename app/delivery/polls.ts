// One held long poll. Registered before its first read (so a message committed between the read
// and the registration cannot be missed), answered exactly once.
//
// States: WAITING -> WOKEN (entries found) | TIMED_OUT | SUPERSEDED | CLOSED (client went away or
// server shutting down). Any wake in WAITING leads to a database read; an empty read (a stale or
// duplicate hint) keeps waiting.
import type { InboxReader, Entry } from '../services/reader.ts';
import type { PollWaiter, WaiterRegistry } from './waiters.ts';

export type PollEnd = 'message' | 'signal' | 'timeout' | 'superseded' | 'closed' | 'shutdown';

export interface PollOutcome {
  end: PollEnd;
  entries: readonly Entry[];
  /** True when the inbox holds more after the last entry returned. */
  more: boolean;
  /** Id-less events that arrived while the poll was held, by event name (`signal`, `presence`). */
  notices: Map<string, string[]> | null;
  /**
   * The answer leaves nothing this poll heard of behind: no more pages, no wake past its last
   * entry (or past the cursor, answered without entries), nothing unsettled. A next poll from
   * there may wait without its start statement while no wake comes meanwhile (see Resumes).
   */
  settled: boolean;
}

/** Signals and presence events one poll answer carries at most (QoS 0: the rest are dropped). */
const NOTICES_MAX = 100;

type State = 'WAITING' | 'WOKEN' | 'TIMED_OUT' | 'SUPERSEDED' | 'CLOSED';

export class PollSession implements PollWaiter {
  readonly kind = 'poll' as const;
  private state: State = 'WAITING';
  private reading = false;
  private again = false;
  private notices: Map<string, string[]> | null = null;
  private noticeCount = 0;
  /** The highest inbox head this poll has heard of (the start's head, wakes, offers). */
  private heard: number;

  constructor(
    private readonly registry: WaiterRegistry,
    private readonly reader: InboxReader,
    readonly tenantId: string,
    readonly userId: string,
    readonly deviceId: string,
    readonly cursor: number,
    private readonly limit: number,
    readonly deadline: number,
    /** The inbox head known when the poll started (at least the cursor). */
    knownHead: number,
    private readonly onEnd: (o: PollOutcome) => void,
  ) {
    this.heard = Math.max(cursor, knownHead);
  }

  get waiting(): boolean {
    return this.state === 'WAITING';
  }

  /**
   * Registers, then reads — unless the caller knows there is nothing past the cursor yet (see
   * WaiterRegistry.watch): then it just waits. Rejects only if that first read fails (the caller
   * answers 503).
   */
  async start(read = true): Promise<void> {
    if (this.state !== 'WAITING') return; // abandoned before it started
    this.registry.addPoll(this);
    if (!read) return;
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

  /**
   * Registers (superseding an older poll of the device, as start() does) and answers with entries
   * already read after the cursor (PagesAhead); with none, starts as usual.
   */
  async startWith(entries: Entry[], read: boolean): Promise<void> {
    if (entries.length === 0) return this.start(read);
    if (this.state !== 'WAITING') return; // abandoned before it started
    this.registry.addPoll(this);
    this.answer(entries);
  }

  offer(entries: readonly Entry[]): void {
    if (this.state !== 'WAITING') return;
    // A read in flight owns the answer; entries that do not continue the cursor need one.
    if (this.reading || entries.length === 0 || entries[0]!.seq !== this.cursor + 1) {
      this.wake(entries.length ? entries[entries.length - 1]!.seq : Number.MAX_SAFE_INTEGER);
      return;
    }
    this.answer(entries);
  }

  wake(head: number): void {
    if (this.state !== 'WAITING') return;
    if (head > this.heard) this.heard = head;
    // A failed re-read is not fatal: the poll keeps waiting, and the safety tick wakes it again.
    this.check().catch(() => undefined);
  }

  /**
   * A signal or presence event: the held poll answers with it. Answering waits for the end of
   * this turn of the event loop, so events that arrive together (one notification, one burst)
   * leave in one answer rather than one per poll round trip.
   */
  notice(event: string, data: string): boolean {
    if (this.state !== 'WAITING' || this.noticeCount >= NOTICES_MAX) return false;
    if (!this.notices) {
      this.notices = new Map();
      setImmediate(() => this.finish('WOKEN', 'signal'));
    }
    let list = this.notices.get(event);
    if (!list) this.notices.set(event, (list = []));
    list.push(data);
    this.noticeCount++;
    return true;
  }

  unsettle(): void {
    this.heard = Number.MAX_SAFE_INTEGER;
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
          this.answer(entries);
          return;
        }
      } while (this.again);
    } finally {
      this.reading = false;
    }
  }

  /** Answers with up to a page of entries (one more than a page was read: `more`). */
  private answer(entries: readonly Entry[]): void {
    const more = entries.length > this.limit;
    this.finish('WOKEN', 'message', more ? entries.slice(0, this.limit) : entries, more);
  }

  private finish(state: State, end: PollEnd, entries: readonly Entry[] = [], more = false): void {
    if (this.state !== 'WAITING') return;
    this.state = state;
    this.registry.remove(this);
    const last = entries.length ? entries[entries.length - 1]!.seq : this.cursor;
    this.onEnd({ end, entries, more, notices: this.notices, settled: !more && this.heard <= last });
  }
}
