// Message bodies by id, newest kept, bounded in bytes. Bodies never change once stored, so a cached
// one is never stale: a reader that finds its entries' bodies here reads only the entries, an
// index range scan, instead of a primary-key lookup into messages per entry (~5 µs each, most of a
// 1,000-entry page). Publishes of this process put their bodies here as they commit (a device that
// catches up usually reads what was published recently); bodies read from the database are kept too.

/** V8's cost of an entry beyond the body's characters: the key string and the map slot. */
const ENTRY_OVERHEAD_BYTES = 120;
/**
 * Larger bodies are not kept: what the cache saves is a lookup per entry (microseconds), which
 * matters for pages of many small messages; a few large ones would only push those out.
 */
const BODY_MAX_CHARS = 8192;

export class BodyCache {
  private readonly map = new Map<string, string>();
  private bytesHeld = 0;

  constructor(private readonly maxBytes: number) {}

  /** A cache of no bytes: readers join entries and bodies instead (BODY_CACHE_MB=0). */
  get disabled(): boolean {
    return this.maxBytes <= 0;
  }

  get(id: string): string | undefined {
    return this.map.get(id);
  }

  remember(id: string, body: string): void {
    if (this.disabled || body.length > BODY_MAX_CHARS || this.map.has(id)) return;
    this.map.set(id, body);
    this.bytesHeld += cost(body);
    // Oldest first out: a Map iterates in insertion order.
    for (const [k, v] of this.map) {
      if (this.bytesHeld <= this.maxBytes) break;
      this.map.delete(k);
      this.bytesHeld -= cost(v);
    }
  }

  /** Estimated bytes held (bodies as UTF-16 plus per-entry overhead), for metrics and tests. */
  get bytes(): number {
    return this.bytesHeld;
  }

  get size(): number {
    return this.map.size;
  }
}

function cost(body: string): number {
  return body.length * 2 + ENTRY_OVERHEAD_BYTES;
}
