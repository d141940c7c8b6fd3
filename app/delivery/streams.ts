// One open SSE stream: a waiter that never times out. It holds a cursor, not a queue: on every
// wake it pages through the inbox from its cursor, writing in chunks of about CHUNK_BYTES; when the
// socket's buffer is full it stops (the rest of the page is read again later) until 'drain' — a
// slow client costs about one chunk of memory. A client that takes nothing for `slowCloseMs` is
// cut off; it resumes from its cursor and loses nothing.
//
// Start (Mercure's order): register, then replay from the cursor to the head, then whatever
// arrived meanwhile — a wake during a pump sets `again`, so nothing is missed or sent twice.
import type { InboxReader, Entry } from '../services/reader.ts';
import type { StreamWaiter, WaiterRegistry } from './waiters.ts';

/** Frames written per socket write; a slow reader holds about this much beyond the socket buffer. */
export const CHUNK_BYTES = 64 * 1024;
/** Entries read per page once the client has fallen behind: a full page would mostly be read again. */
const BEHIND_PAGE = 32;
/** Notices held for a stalled socket, at most (a few signals of the 4 KiB maximum). */
const HELD_MAX_BYTES = 64 * 1024;

export type StreamEnd = 'lifetime' | 'closed' | 'shutdown' | 'error' | 'slow';

/** The bytes side of a stream (http/sse.ts); every write method returns false when buffered. */
export interface StreamSink {
  messages(entries: readonly Entry[]): boolean;
  reset(oldest: number): boolean;
  /** Any other event, without an id. */
  event(event: string, data: string): boolean;
  heartbeat(): boolean;
  /** Resolves when the socket can take more, or when it closed, or when `withinMs` passed first. */
  drained(withinMs: number): Promise<'drained' | 'closed' | 'timeout'>;
  end(reason: StreamEnd): void;
}

export interface StreamOptions {
  pageSize: number;
  heartbeatMs: number;
  /** Absolute time at which the stream is closed so proxies recycle it (jittered by the caller). */
  closeAt: number;
  /** A client that takes none of its data for this long is closed as a slow reader. */
  slowCloseMs: number;
  /** Told the highest seq written after each page (the delivered hint of the compensation scan). */
  onSent?: (seq: number) => void;
}

export class StreamSession implements StreamWaiter {
  readonly kind = 'stream' as const;
  private open = true;
  private pumping = false;
  private again = false;
  private lastWrite = Date.now();
  /** A re-offer asked to resend from here; applied between pages so a page in flight cannot undo it. */
  private rewindTo: number | null = null;
  /** Notices that arrived while the socket was full: only the latest of each key is kept. */
  private held: Map<string, { event: string; data: string }> | null = null;
  private heldBytes = 0;
  private blocked = false;
  private behind = false;
  /** Entries handed over by publishes in this turn, written together at its end. */
  private offered: Entry[] | null = null;
  cursor: number;

  constructor(
    private readonly registry: WaiterRegistry,
    private readonly reader: InboxReader,
    private readonly sink: StreamSink,
    readonly tenantId: string,
    readonly userId: string,
    readonly deviceId: string,
    since: number,
    private readonly opts: StreamOptions,
    private readonly onEnd: (reason: StreamEnd) => void = () => undefined,
  ) {
    this.cursor = since;
  }

  start(): void {
    this.registry.addStream(this);
    this.pump();
  }

  wake(): void {
    this.pump();
  }

  /**
   * Entries handed over by a publish of this process: collected until the end of this turn (a
   * batch commits many messages at once, and a socket write costs more than its bytes), then
   * written if they continue the cursor and nothing else owns it; otherwise the stream reads.
   */
  offer(entries: readonly Entry[]): void {
    if (!this.open || entries.length === 0) return;
    if (this.offered) {
      this.offered.push(...entries);
      return;
    }
    this.offered = [...entries];
    queueMicrotask(() => this.takeOffered());
  }

  private takeOffered(): void {
    const entries = this.offered;
    this.offered = null;
    if (!this.open || !entries?.length) return;
    // Anything in flight (a page being read, a full socket, a rewind) owns the cursor: read instead.
    if (this.pumping || this.blocked || this.behind || this.rewindTo !== null || entries[0]!.seq !== this.cursor + 1) {
      this.pump();
      return;
    }
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.seq !== entries[i - 1]!.seq + 1) {
        this.pump();
        return;
      }
    }
    if (!this.write(entries)) void this.waitDrain();
    this.opts.onSent?.(this.cursor);
  }

  rewind(cursor: number): void {
    if (!this.open) return;
    this.rewindTo = Math.min(this.rewindTo ?? cursor, cursor);
    this.pump();
  }

  tick(now: number): void {
    if (!this.open) return;
    if (now >= this.opts.closeAt) return this.close('lifetime');
    if (now - this.lastWrite >= this.opts.heartbeatMs && !this.pumping) {
      this.lastWrite = now;
      this.sink.heartbeat();
    }
  }

  shutdown(): void {
    this.close('shutdown');
  }

  /**
   * Sends an event that is not an inbox entry. While the socket is full it is held, and a newer
   * notice of the same key replaces it: a read marker or presence state is only worth its latest
   * value, and a signal (QoS 0) only its latest per sender and type. Held notices are bounded in
   * bytes; past the bound a notice is dropped (false), which at-most-once delivery allows.
   */
  notice(event: string, data: string, key = event): boolean {
    if (!this.open) return false;
    if (this.blocked) {
      const held = (this.held ??= new Map());
      const old = held.get(key);
      const bytes = this.heldBytes - (old ? old.data.length : 0) + data.length;
      if (bytes > HELD_MAX_BYTES) return false;
      held.set(key, { event, data });
      this.heldBytes = bytes;
      return true;
    }
    this.lastWrite = Date.now();
    if (!this.sink.event(event, data)) void this.waitDrain();
    return true;
  }

  private async waitDrain(): Promise<void> {
    if (this.blocked) return;
    const r = await this.drained();
    if (r !== 'drained') this.close(r === 'closed' ? 'closed' : 'slow');
  }

  /** Waits for 'drain' (or the socket's end, or the slow-reader limit), then sends the notices held meanwhile. */
  private async drained(): Promise<'drained' | 'closed' | 'timeout'> {
    this.blocked = true;
    const r = await this.sink.drained(this.opts.slowCloseMs);
    this.blocked = false;
    const held = this.held;
    this.held = null;
    this.heldBytes = 0;
    if (r === 'drained' && held) for (const [key, n] of held) this.notice(n.event, n.data, key);
    return r;
  }

  /** The client went away. */
  abandon(): void {
    this.close('closed');
  }

  close(reason: StreamEnd): void {
    if (!this.open) return;
    this.open = false;
    this.registry.remove(this);
    this.sink.end(reason);
    this.onEnd(reason);
  }

  private pump(): void {
    if (!this.open) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    this.drain().catch(() => {
      // A read failed (database away): keep the stream; the safety tick wakes it again.
    }).finally(() => {
      this.pumping = false;
    });
  }

  /** Writes entries chunk by chunk, advancing the cursor; false as soon as the socket is full. */
  private write(entries: readonly Entry[]): boolean {
    let i = 0;
    while (i < entries.length && this.open) {
      let j = i;
      let bytes = 0;
      while (j < entries.length && (j === i || bytes + entries[j]!.json.length <= CHUNK_BYTES)) bytes += entries[j++]!.json.length;
      const ok = this.sink.messages(entries.slice(i, j));
      this.cursor = entries[j - 1]!.seq;
      this.lastWrite = Date.now();
      i = j;
      if (!ok) return false;
    }
    return true;
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      for (;;) {
        if (this.rewindTo !== null) {
          if (this.rewindTo < this.cursor) this.cursor = this.rewindTo;
          this.rewindTo = null;
        }
        const limit = this.behind ? Math.min(BEHIND_PAGE, this.opts.pageSize) : this.opts.pageSize;
        const entries = await this.reader.read(this.tenantId, this.userId, this.cursor, limit);
        if (!this.open || entries.length === 0) break;
        const first = entries[0]!.seq;
        // Seqs are gap-free when written; a gap means the entries in it expired meanwhile.
        if (first > this.cursor + 1) this.sink.reset(first);
        this.behind = !this.write(entries);
        this.opts.onSent?.(this.cursor);
        if (this.behind) {
          const r = await this.drained();
          if (r === 'closed') return this.close('closed');
          if (r === 'timeout') return this.close('slow');
          continue; // from the cursor: what was left of the page is read again (bodies are cached)
        }
        if (entries.length < limit) break;
      }
    } while ((this.again || this.rewindTo !== null) && this.open);
  }
}
