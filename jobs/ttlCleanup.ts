// TTL cleanup: expired inbox entries, then expired messages nothing references, in bounded
// batches until done or the run's time budget is spent (the next run goes on from there).
// Each entry batch is one short transaction that also advances the touched inboxes' retention
// floors, so a reader never sees entries gone without the floor saying so (410 / `reset`).
import { withTransaction, type Pool } from '../db/pool.ts';
import { deleteExpiredEntries, lockInboxes, advanceFloors, deleteExpiredMessages } from '../db/queries/ttl.ts';
import { pruneJobRuns } from '../db/queries/jobRuns.ts';
import type { RunResult } from './runs.ts';

export interface CleanupOptions {
  batch: number;
  budgetMs: number;
  jobRunsKeepDays: number;
}

export async function ttlCleanup(db: Pool, o: CleanupOptions): Promise<RunResult> {
  const t0 = performance.now();
  const inBudget = () => performance.now() - t0 < o.budgetMs;
  let entries = 0;
  let messages = 0;
  let floors = 0;
  let batches = 0;
  let largestBatch = 0;
  let done = false;

  while (inBudget()) {
    const n = await withTransaction(db, async (c) => {
      const touched = await deleteExpiredEntries(c, o.batch);
      if (touched.length) {
        const tenants = touched.map((t) => t.tenantId);
        const users = touched.map((t) => t.userId);
        await lockInboxes(c, tenants, users);
        floors += await advanceFloors(c, tenants, users);
      }
      return touched.reduce((a, t) => a + t.deleted, 0);
    });
    if (n > 0) batches++;
    entries += n;
    largestBatch = Math.max(largestBatch, n);
    if (n < o.batch) {
      done = true;
      break;
    }
  }
  // Messages go once no entry points at them: after their entries, never before.
  if (done) {
    done = false;
    while (inBudget()) {
      const n = await deleteExpiredMessages(db, o.batch);
      if (n > 0) batches++;
      messages += n;
      largestBatch = Math.max(largestBatch, n);
      if (n < o.batch) {
        done = true;
        break;
      }
    }
  }
  const jobRuns = await pruneJobRuns(db, o.jobRunsKeepDays, o.batch);
  const ms = performance.now() - t0;
  const rows = entries + messages;
  return {
    rows,
    detail: {
      entries, messages, floors, batches, largestBatch, jobRuns, complete: done,
      rowsPerS: ms > 0 ? Math.round((rows * 1000) / ms) : 0,
    },
  };
}
