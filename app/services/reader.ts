// Reads inbox entries for waiters. Reads asked for in the same turn of the event loop are merged
// into one query per tenant (a group message waking 1,000 streams costs one entries query), and
// message bodies come from the body cache where it has them (publishes of this process put theirs
// there as they commit); only the missing ones are read, once for all readers of the turn. Without
// a cache, a read alone in its turn (a poll page, a stream catching up) joins entries and bodies.
import type { Queryable } from '../../db/pool.ts';
import { readEntries, readBodies, readPage } from '../../db/queries/inbox.ts';
import { PerTurn } from './perTurn.ts';
import { BodyCache } from './bodyCache.ts';

export interface Entry {
  seq: number;
  /** The message as JSON text without its seq (messages.body): http/wire.ts writes the seq in front. */
  body: string;
}

interface Request {
  userId: string;
  since: number;
  limit: number;
  resolve: (e: Entry[]) => void;
  reject: (err: unknown) => void;
}

const MAX_ROWS_PER_QUERY = 2000;

export class InboxReader {
  private readonly turn = new PerTurn<Request>((tenantId, reqs) => {
    for (let i = 0; i < reqs.length; i += MAX_ROWS_PER_QUERY) void this.run(tenantId, reqs.slice(i, i + MAX_ROWS_PER_QUERY));
  });
  private queriesRun = 0;

  constructor(private readonly db: Queryable, private readonly cache: BodyCache = new BodyCache(32 * 1024 * 1024)) {}

  /** Entries queries run so far (tests and benchmarks: what delivery without a read saves). */
  get queries(): number {
    return this.queriesRun;
  }

  /** Entries with seq > since, oldest first, at most `limit`. */
  read(tenantId: string, userId: string, since: number, limit: number): Promise<Entry[]> {
    return new Promise((resolve, reject) => this.turn.add(tenantId, { userId, since, limit, resolve, reject }));
  }

  private async run(tenantId: string, reqs: Request[]): Promise<void> {
    this.queriesRun++;
    if (reqs.length === 1 && this.cache.disabled) return this.runOne(tenantId, reqs[0]!);
    try {
      const refs = await readEntries(this.db, tenantId, reqs.map((r) => r.userId), reqs.map((r) => r.since), reqs.map((r) => r.limit));
      // Bodies found in the cache are held here: remembering the fetched ones may evict them, and an
      // entry without a body would look expired (a false gap, skipped by the reader).
      const bodies = new Map<string, string>();
      const missing = new Set<string>();
      for (const r of refs) {
        const hit = this.cache.get(r.messageId);
        if (hit !== undefined) bodies.set(r.messageId, hit);
        else missing.add(r.messageId);
      }
      const fetched = missing.size ? await readBodies(this.db, tenantId, [...missing]) : new Map<string, string>();
      for (const [id, body] of fetched) {
        bodies.set(id, body);
        this.cache.remember(id, body);
      }
      const out: Entry[][] = reqs.map(() => []);
      for (const ref of refs) {
        const body = bodies.get(ref.messageId);
        // No body: the message expired between the two reads; its entry goes with it.
        if (body !== undefined) out[ref.row]!.push({ seq: ref.seq, body });
      }
      reqs.forEach((r, i) => r.resolve(out[i]!));
    } catch (err) {
      for (const r of reqs) r.reject(err);
    }
  }

  private async runOne(tenantId: string, r: Request): Promise<void> {
    try {
      r.resolve(await readPage(this.db, tenantId, r.userId, r.since, r.limit));
    } catch (err) {
      r.reject(err);
    }
  }
}
