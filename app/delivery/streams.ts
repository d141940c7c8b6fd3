// One open SSE stream: a waiter that never times out. It holds a cursor, not a queue: on every
// wake it pages through the inbox from its cursor, writing in chunks of about CHUNK_BYTES; when the
// socket's buffer is full it stops until 'drain', holding at most a chunk and a half of what it
// read (a larger rest is read again later) — a slow client costs a few chunks of memory at most.
// A client that takes nothing for `slowCloseMs` is cut off; it resumes from its cursor and loses
// nothing.
//
// Start (Mercure's order): register, then replay from the cursor to the head, then whatever
// arrived meanwhile — a wake during a pump sets `again`, so nothing is missed or sent twice.
import type { InboxReader, Entry } from '../services/reader.ts';
import type { StreamWaiter, WaiterRegistry } from './waiters.ts';

/** Frames written per socket write; a slow reader holds about this much beyond the socket buffer. */
export const CHUNK_BYTES = 64 * 1024;
/**
 * Once the client has fallen behind, a page is about two chunks (a full page would mostly be read
 * again), sized from the entries seen so far, and never fewer than this.
 */
const BEHIND_PAGE_MIN = 32;
/** What is left of a page when the socket fills is kept up to this size (else read again later). */
const REST_MAX_BYTES = CHUNK_BYTES * 1.5;
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
  /** Average bytes of an entry written so far (sizes the page read once behind). */
  private entryBytes = 256;
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
    if (!this.write(entries).ok) void this.waitDrain();
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

  /**
   * Writes entries chunk by chunk, advancing the cursor, until the socket is full. Returns how many
   * were written and whether the socket can take more.
   */
  private write(entries: readonly Entry[]): { written: number; ok: boolean } {
    let i = 0;
    while (i < entries.length && this.open) {
      let j = i;
      let bytes = 0;
      while (j < entries.length && (j === i || bytes + entries[j]!.body.length <= CHUNK_BYTES)) bytes += entries[j++]!.body.length;
      this.entryBytes = Math.max(1, Math.round((this.entryBytes + bytes / (j - i)) / 2));
      const ok = this.sink.messages(entries.slice(i, j));
      this.cursor = entries[j - 1]!.seq;
      this.lastWrite = Date.now();
      i = j;
      if (!ok) return { written: i, ok: false };
    }
    return { written: i, ok: true };
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      // Entries read but not yet written because the socket was full: at most REST_MAX_BYTES,
      // kept for the next 'drain' so that a client catching up costs one read per two chunks.
      let rest: readonly Entry[] | null = null;
      let more = true;
      for (;;) {
        if (this.rewindTo !== null) {
          if (this.rewindTo < this.cursor) this.cursor = this.rewindTo;
          this.rewindTo = null;
          rest = null;
        }
        let entries: readonly Entry[];
        if (rest) {
          entries = rest;
          rest = null;
        } else {
          if (!more) break;
          const limit = this.behind ? Math.min(Math.max(BEHIND_PAGE_MIN, Math.floor((2 * CHUNK_BYTES) / this.entryBytes)), this.opts.pageSize) : this.opts.pageSize;
          entries = await this.reader.read(this.tenantId, this.userId, this.cursor, limit);
          more = entries.length >= limit;
        }
        if (!this.open || entries.length === 0) break;
        const first = entries[0]!.seq;
        // Seqs are gap-free when written; a gap means the entries in it expired meanwhile.
        if (first > this.cursor + 1) this.sink.reset(first);
        const { written, ok } = this.write(entries);
        this.behind = !ok;
        this.opts.onSent?.(this.cursor);
        if (this.behind) {
          const left = entries.slice(written);
          let bytes = 0;
          for (const e of left) bytes += e.body.length;
          // Much more than a chunk left (a full page): read it again later rather than hold it.
          if (left.length && bytes <= REST_MAX_BYTES) rest = left;
          else if (left.length) more = true;
          const r = await this.drained();
          if (r === 'closed') return this.close('closed');
          if (r === 'timeout') return this.close('slow');
        }
      }
    } while ((this.again || this.rewindTo !== null) && this.open);
  }
}
