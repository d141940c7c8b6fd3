import assert from 'node:assert/strict';
import { StreamSession, CHUNK_BYTES } from '../../app/delivery/streams.ts';
import { WaiterRegistry } from '../../app/delivery/waiters.ts';
import type { Entry } from '../../app/services/reader.ts';

/** An inbox of n entries of about `bytes` each, read the way InboxReader reads (seq > since, limit). */
function inbox(n: number, bytes: number) {
  const entries: Entry[] = Array.from({ length: n }, (_, i) => ({ seq: i + 1, body: `{"p":"${'x'.repeat(bytes)}"}` }));
  const reads: { since: number; limit: number }[] = [];
  const reader = {
    read: async (_t: string, _u: string, since: number, limit: number) => {
      reads.push({ since, limit });
      return entries.slice(since, since + limit);
    },
  };
  return { entries, reads, reader: reader as never };
}

/** A socket that is full after every `every`-th write and drains on the next turn. */
function sink(every: number) {
  const got: number[] = [];
  let writes = 0;
  let maxBatchBytes = 0;
  return {
    got,
    get maxBatchBytes() { return maxBatchBytes; },
    messages: (es: readonly Entry[]) => {
      for (const e of es) got.push(e.seq);
      maxBatchBytes = Math.max(maxBatchBytes, es.reduce((a, e) => a + e.body.length, 0));
      return ++writes % every !== 0;
    },
    reset: () => true, heartbeat: () => true, event: () => true, end: () => undefined,
    drained: () => new Promise<'drained'>((r) => setImmediate(() => r('drained'))),
  };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), 'condition not reached');
}

describe('a stream catching up through a socket that keeps filling', () => {
  const opts = { pageSize: 1000, heartbeatMs: 60_000, closeAt: Date.now() + 600_000, slowCloseMs: 60_000 };

  it('writes every entry once, in order, reading about one page per two chunks once behind', async () => {
    const registry = new WaiterRegistry(20);
    const { entries, reads, reader } = inbox(20_000, 200);
    const out = sink(1);
    const s = new StreamSession(registry, reader, out, 't', 'u', 'd', 0, opts);
    try {
      s.start();
      await until(() => out.got.length >= entries.length);
      assert.deepEqual(out.got, entries.map((e) => e.seq));
      const bytes = entries.reduce((a, e) => a + e.body.length, 0);
      // The old way (32 entries a page once behind) needed ~600 reads here.
      assert.ok(reads.length <= Math.ceil(bytes / CHUNK_BYTES / 2) + 5, `${reads.length} reads for ${bytes} bytes`);
      assert.ok(out.maxBatchBytes <= CHUNK_BYTES + 300, 'one write is at most a chunk');
      // Once behind, a read asks for about two chunks' worth, never a full page again.
      assert.ok(reads.slice(2).every((r) => r.limit * 200 <= 2.2 * CHUNK_BYTES), JSON.stringify(reads.slice(0, 5)));
    } finally {
      s.close('closed');
      registry.stop();
    }
  });

  it('a rewind while behind resends from the rewind point, dropping what was held', async () => {
    const registry = new WaiterRegistry(20);
    const { entries, reader } = inbox(3000, 200);
    const out = sink(2);
    const s = new StreamSession(registry, reader, out, 't', 'u', 'd', 0, opts);
    try {
      s.start();
      await until(() => out.got.length >= 1500);
      const mark = out.got.length;
      s.rewind(100);
      await until(() => out.got.lastIndexOf(101) >= mark && out.got.at(-1) === 3000);
      const after = out.got.slice(out.got.lastIndexOf(101));
      assert.deepEqual(after, entries.slice(100).map((e) => e.seq), 'from 101 to the end, in order, once');
    } finally {
      s.close('closed');
      registry.stop();
    }
  });
});
