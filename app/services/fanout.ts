// Fan-out of messages to groups above the inline limit. The publish committed the message, the
// sender's copy and an outbox row holding the member snapshot; this module writes the members'
// entries in batches, each its own transaction (bounded lock time, bounded memory), moving the
// outbox cursor in the same commit. The outbox row is the source of truth: a job that is lost or
// dies half-way is re-driven from it (redriveStuckFanouts), and a repeated batch writes nothing.
import type PgBoss from 'pg-boss';
import { withTransaction, type Pool, type Queryable } from '../../db/pool.ts';
import * as q from '../../db/queries/fanout.ts';

export const FANOUT_QUEUE = 'fanout';
const REDRIVE_MAX = 1000;

export interface FanoutJob {
  tenantId: string;
  messageId: string;
}

/** Where the publisher hands a queued fan-out (pg-boss when jobs run here, else in-process). */
export interface FanoutQueue {
  enqueue(job: FanoutJob): Promise<void>;
}

export interface BatchResult {
  /** Entries newly written (0 for a repeated batch). */
  written: number;
  /** Members of the snapshot covered by this batch. */
  covered: number;
  state: 'pending' | 'done' | 'expired' | 'missing';
}

/**
 * One batch: members [from, from + size) of the snapshot, `from` defaulting to the cursor.
 * Idempotent, so a retried batch (same `from`) writes no second entry and consumes no seq.
 */
export async function fanoutBatch(db: Pool, job: FanoutJob, size: number, from: number | null = null): Promise<BatchResult> {
  return withTransaction(db, async (c) => {
    const b = await q.lockOutboxBatch(c, job.tenantId, job.messageId, from, size);
    if (!b) return { written: 0, covered: 0, state: 'missing' };
    if (b.state !== 'pending' && from === null) return { written: 0, covered: 0, state: b.state };
    if (b.expiresAt === null) {
      await q.expireOutbox(c, job.tenantId, job.messageId);
      return { written: 0, covered: 0, state: 'expired' };
    }
    const written = b.users.length ? await q.writeFanoutBatch(c, job.tenantId, job.messageId, b.users, b.expiresAt) : 0;
    const after = await q.advanceOutbox(c, job.tenantId, job.messageId, (from ?? b.done) + b.users.length);
    return { written, covered: b.users.length, state: after.state as BatchResult['state'] };
  });
}

export interface FanoutRun {
  rows: number;
  detail: { batches: number; state: string };
}

/** Runs a fan-out to its end, batch after batch. Throws on failure (the job is retried). */
export async function runFanout(db: Pool, job: FanoutJob, batchSize: number): Promise<FanoutRun> {
  await q.noteOutboxAttempt(db, job.tenantId, job.messageId, null);
  let rows = 0;
  let batches = 0;
  try {
    for (;;) {
      const r = await fanoutBatch(db, job, batchSize);
      rows += r.written;
      if (r.state !== 'pending') return { rows, detail: { batches, state: r.state } };
      batches++;
    }
  } catch (err) {
    await q.noteOutboxAttempt(db, job.tenantId, job.messageId, String((err as Error)?.message ?? err).slice(0, 500)).catch(() => undefined);
    throw err;
  }
}

/**
 * Sends a new job for every pending outbox row untouched for `olderThanMs` (its job was lost, or
 * the process running it died). Returns how many were re-driven. Safe to run anywhere, any time:
 * a re-driven fan-out that is in fact still running only repeats no-op work.
 */
export async function redriveStuckFanouts(db: Queryable, boss: Pick<PgBoss, 'send'>, olderThanMs: number): Promise<number> {
  // One bounded claim per call; the scheduled scan comes back for the rest.
  const stuck = await q.claimStuckOutbox(db, olderThanMs, REDRIVE_MAX);
  for (const job of stuck) await boss.send(FANOUT_QUEUE, job satisfies FanoutJob);
  return stuck.length;
}

/** Without pg-boss in this process: fan out here, in the background; the outbox row still guards a crash. */
export function inProcessFanout(db: Pool, batchSize: number, onError: (err: unknown, job: FanoutJob) => void): FanoutQueue {
  return {
    async enqueue(job) {
      void runFanout(db, job, batchSize).catch((err) => onError(err, job));
    },
  };
}

export const fanoutState = q.outboxState;
