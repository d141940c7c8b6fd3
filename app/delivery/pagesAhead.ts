// Paging clients. A poll answered with `more: true` is usually followed at once by a poll for the
// page after it (a device catching up). That page is read as soon as the answer is written, while
// the client receives and parses it, rather than after the next request's start statement: the
// read leaves the critical path of every page but the first. It is taken only by the next poll of
// the same device asking for exactly that cursor and limit within `ttlMs`, and dropped otherwise.
// Its entries are committed entries after the cursor: a prefix of what a later read would return
// (a message committed meanwhile comes in a later page).
import type { Entry } from '../services/reader.ts';
import { deviceKey } from './keys.ts';

interface Ahead {
  since: number;
  limit: number;
  at: number;
  /** null: the read failed (the poll then reads as usual). */
  entries: Promise<Entry[] | null>;
}

export class PagesAhead {
  private readonly pages = new Map<string, Ahead>();

  constructor(private readonly max = 1000, private readonly ttlMs = 1000) {}

  /** Reads the page after `since` for this device now (replacing one read earlier). */
  put(tenantId: string, userId: string, deviceId: string, since: number, limit: number, read: () => Promise<Entry[]>): void {
    const k = deviceKey(tenantId, userId, deviceId);
    this.pages.delete(k);
    this.pages.set(k, { since, limit, at: Date.now(), entries: read().catch(() => null) });
    // Oldest out: a Map iterates in insertion order.
    if (this.pages.size > this.max) this.pages.delete(this.pages.keys().next().value!);
  }

  /** The page read ahead for this poll, if it asks for exactly that one; used up either way. */
  take(tenantId: string, userId: string, deviceId: string, since: number, limit: number): Promise<Entry[] | null> | null {
    const k = deviceKey(tenantId, userId, deviceId);
    const a = this.pages.get(k);
    if (!a) return null;
    this.pages.delete(k);
    return a.since === since && a.limit === limit && Date.now() - a.at <= this.ttlMs ? a.entries : null;
  }

  get size(): number {
    return this.pages.size;
  }
}
